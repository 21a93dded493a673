// Package xmlnode parses small XML configuration files into a tree that
// remembers where every element and attribute stands, so that validation
// errors can say FILE:LINE:COL.
package xmlnode

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// Attr is one attribute with its position.
type Attr struct {
	Name  string
	Value string
	Line  int
	Col   int
}

// Node is one element.
type Node struct {
	Name     string
	Attrs    []Attr
	Children []*Node
	Text     string // character data directly inside, trimmed
	File     string
	Line     int
	Col      int
	// Mixed is true when non-blank text stands next to child elements
	// (Text is kept only for elements without children).
	Mixed bool

	used map[string]bool
}

// ParseFile reads and parses an XML file.
func ParseFile(path string) (*Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// A configuration that cannot be read is bad input, like a malformed one.
		return nil, fault.Usage(err)
	}
	return Parse(path, data)
}

// Parse parses data, naming it file in errors. It returns the root element.
func Parse(file string, data []byte) (*Node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	lc := newLineCounter(data)
	var stack []*Node
	var root *Node
	var text strings.Builder
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, syntaxError(file, data, lc, se, dec.InputOffset())
			}
			line, col := lc.pos(dec.InputOffset())
			return nil, fault.At(file, line, col, "malformed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, col := lc.pos(off)
			n := &Node{Name: t.Name.Local, File: file, Line: line, Col: col}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" || a.Name.Space != "" {
					continue // namespace declarations and schemaLocation hints
				}
				aline, acol := lc.attrPos(off, data, a.Name.Local)
				n.Attrs = append(n.Attrs, Attr{Name: a.Name.Local, Value: a.Value, Line: aline, Col: acol})
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fault.At(file, line, col, "malformed XML: more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
				if strings.TrimSpace(text.String()) != "" {
					parent.Mixed = true
				}
			}
			stack = append(stack, n)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			n := stack[len(stack)-1]
			if len(n.Children) == 0 {
				n.Text = strings.TrimSpace(text.String())
			} else if strings.TrimSpace(text.String()) != "" {
				n.Mixed = true
			}
			text.Reset()
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, fault.At(file, 1, 0, "malformed XML: no root element")
	}
	return root, nil
}

// syntaxError reports a syntax error of the decoder, which gives only a
// line. The mistakes a person makes writing a condition — a raw '<' or
// '&' in text — are positioned at the character itself (the last one
// before off, where the decoder stopped) and say how to write it.
func syntaxError(file string, data []byte, lc *lineCounter, se *xml.SyntaxError, off int64) error {
	msg := "malformed XML: " + se.Msg
	var mark byte
	switch {
	case strings.HasPrefix(se.Msg, "expected element name after <"), strings.HasPrefix(se.Msg, "invalid XML name"):
		mark = '<'
		msg += " (a '<' in text, as in a condition a < b, must be written &lt;, or the text put in <![CDATA[ … ]]>)"
	case strings.Contains(se.Msg, "character entity") || strings.Contains(se.Msg, "entity name"):
		mark = '&'
		msg += " (a '&' in text must be written &amp;)"
	}
	i := -1
	if mark != 0 {
		i = bytes.LastIndexByte(data[:min(off, int64(len(data)))], mark)
	}
	if i < 0 { // elsewhere the decoder's line is all that is sure
		return fault.At(file, se.Line, 0, "%s", msg)
	}
	line, col := lc.pos(int64(i))
	if line != se.Line {
		line, col = se.Line, 0
	}
	return fault.At(file, line, col, "%s", msg)
}

// Errorf returns an error positioned at n.
func (n *Node) Errorf(format string, args ...any) error {
	return fault.At(n.File, n.Line, n.Col, format, args...)
}

// AttrErrorf returns an error positioned at attribute a of n.
func (n *Node) AttrErrorf(a Attr, format string, args ...any) error {
	return fault.At(n.File, a.Line, a.Col, format, args...)
}

// Lookup returns the named attribute and whether it is present, and marks it used.
func (n *Node) Lookup(name string) (Attr, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			if n.used == nil {
				n.used = map[string]bool{}
			}
			n.used[name] = true
			return a, true
		}
	}
	return Attr{}, false
}

// Get returns the value of an optional attribute ("" when absent).
func (n *Node) Get(name string) string {
	a, _ := n.Lookup(name)
	return a.Value
}

// Require returns the value of a required, non-empty attribute.
func (n *Node) Require(name string) (string, error) {
	a, ok := n.Lookup(name)
	if !ok {
		return "", n.Errorf("<%s> needs attribute %q", n.Name, name)
	}
	if strings.TrimSpace(a.Value) == "" {
		return "", n.AttrErrorf(a, "<%s> attribute %q is empty", n.Name, name)
	}
	return a.Value, nil
}

// Bool returns an optional boolean attribute: true, false, 1 or 0, as in XSD.
func (n *Node) Bool(name string, def bool) (bool, error) {
	a, ok := n.Lookup(name)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(a.Value)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, n.AttrErrorf(a, "<%s> attribute %q: %q is not a boolean", n.Name, name, a.Value)
}

// Int returns an optional non-negative integer attribute.
func (n *Node) Int(name string, def int) (int, error) {
	a, ok := n.Lookup(name)
	if !ok {
		return def, nil
	}
	var v int
	if _, err := fmt.Sscanf(strings.TrimSpace(a.Value), "%d", &v); err != nil || v < 0 || fmt.Sprint(v) != strings.TrimSpace(a.Value) {
		return 0, n.AttrErrorf(a, "<%s> attribute %q: %q is not a non-negative integer", n.Name, name, a.Value)
	}
	return v, nil
}

// CheckAttrs reports the first attribute not in allowed.
func (n *Node) CheckAttrs(allowed ...string) error {
	for _, a := range n.Attrs {
		ok := false
		for _, name := range allowed {
			if a.Name == name {
				ok = true
				break
			}
		}
		if !ok {
			return n.AttrErrorf(a, "unknown attribute %q on <%s>", a.Name, n.Name)
		}
	}
	return nil
}

// CheckChildren reports the first child element not in allowed, and text
// content when the element allows none.
func (n *Node) CheckChildren(allowed ...string) error {
	for _, c := range n.Children {
		ok := false
		for _, name := range allowed {
			if c.Name == name {
				ok = true
				break
			}
		}
		if !ok {
			return c.Errorf("unknown element <%s> inside <%s>", c.Name, n.Name)
		}
	}
	return nil
}

// CheckNoText reports character data inside an element that allows none,
// also between its child elements.
func (n *Node) CheckNoText() error {
	if n.Text != "" || n.Mixed {
		return n.Errorf("<%s> takes no text", n.Name)
	}
	return nil
}

// lineCounter turns byte offsets into line and column numbers.
type lineCounter struct {
	starts []int64 // offset of the first byte of each line
}

func newLineCounter(data []byte) *lineCounter {
	lc := &lineCounter{starts: []int64{0}}
	for i, b := range data {
		if b == '\n' {
			lc.starts = append(lc.starts, int64(i+1))
		}
	}
	return lc
}

func (lc *lineCounter) pos(off int64) (line, col int) {
	lo, hi := 0, len(lc.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if lc.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, int(off-lc.starts[lo]) + 1
}

// attrPos finds attribute name inside the start tag beginning at off.
func (lc *lineCounter) attrPos(off int64, data []byte, name string) (int, int) {
	end := bytes.IndexByte(data[off:], '>')
	if end < 0 {
		end = len(data) - int(off)
	}
	tag := data[off : off+int64(end)]
	for i := 0; i+len(name) <= len(tag); i++ {
		j := bytes.Index(tag[i:], []byte(name))
		if j < 0 {
			break
		}
		k := i + j
		before := k == 0 || isSpace(tag[k-1])
		rest := bytes.TrimLeft(tag[k+len(name):], " \t\r\n")
		if before && len(rest) > 0 && rest[0] == '=' {
			return lc.pos(off + int64(k))
		}
		i = k
	}
	return lc.pos(off)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
