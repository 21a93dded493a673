package buildtenant

import (
	"errors"
	"fmt"
	"strings"
)

// checkCondition makes sure an SQL condition from a configuration file stays
// one expression once wrapped in parentheses: its parentheses balance outside
// quotes and comments, and it holds no statement separator, so text such as
// "true) OR (false" or "x; DROP TABLE t" cannot change the statement around
// it. The server checks the rest (syntax, names, types).
func checkCondition(cond string) error {
	depth := 0
	for i := 0; i < len(cond); {
		c := cond[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (cond[i-1] == 'E' || cond[i-1] == 'e') && (i < 2 || !isIdentChar(cond[i-2]))
			end, err := skipQuoted(cond, i, '\'', escapes)
			if err != nil {
				return err
			}
			i = end
		case c == '"':
			end, err := skipQuoted(cond, i, '"', false)
			if err != nil {
				return err
			}
			i = end
		case c == '$' && (i == 0 || !isIdentChar(cond[i-1])):
			end, err := skipDollarQuoted(cond, i)
			if err != nil {
				return err
			}
			i = end
		case strings.HasPrefix(cond[i:], "--"):
			nl := strings.IndexByte(cond[i:], '\n')
			if nl < 0 {
				return nil // the comment runs to the end; the wrapper starts a new line
			}
			i += nl + 1
		case strings.HasPrefix(cond[i:], "/*"):
			end, err := skipBlockComment(cond, i)
			if err != nil {
				return err
			}
			i = end
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth == 0 {
				return fmt.Errorf("unbalanced \")\" at offset %d", i+1)
			}
			depth--
			i++
		case c == ';':
			return errors.New("\";\" is not allowed: give one condition, not statements")
		default:
			i++
		}
	}
	if depth > 0 {
		return fmt.Errorf("%d unclosed \"(\"", depth)
	}
	return nil
}

// skipQuoted returns the offset after the string or identifier opening at i.
// A doubled quote stands for itself; with escapes, so does a backslash pair.
func skipQuoted(s string, i int, quote byte, escapes bool) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case escapes && s[j] == '\\':
			j++
		case s[j] == quote:
			if j+1 < len(s) && s[j+1] == quote {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated quoted text starting at offset %d", i+1)
}

// skipDollarQuoted skips $tag$…$tag$ at i; a "$" that opens no dollar quote
// (a parameter such as $1) is skipped alone.
func skipDollarQuoted(s string, i int) (int, error) {
	j := i + 1
	for j < len(s) && isTagChar(s[j], j == i+1) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1, nil
	}
	tag := s[i : j+1]
	end := strings.Index(s[j+1:], tag)
	if end < 0 {
		return 0, fmt.Errorf("unterminated %s quote starting at offset %d", tag, i+1)
	}
	return j + 1 + end + len(tag), nil
}

// skipBlockComment skips a /* … */ comment at i; such comments nest.
func skipBlockComment(s string, i int) (int, error) {
	level := 0
	for j := i; j < len(s)-1; {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			level++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			level--
			j += 2
			if level == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, fmt.Errorf("unterminated comment starting at offset %d", i+1)
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isTagChar(c byte, first bool) bool {
	if c >= '0' && c <= '9' {
		return !first
	}
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
