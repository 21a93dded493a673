package distribute

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// overlayObject is an <Object> element of an overlay file: where it is in
// the text and which SREL columns it declares.
type overlayObject struct {
	name, table string
	// start and end are the byte offsets of the element; selfClosing
	// elements (<Object …/>) have no end tag.
	start, end  int64
	selfClosing bool
	columns     map[string]bool
}

// scanOverlay finds the <Object> elements of an overlay and the offset of
// its </Schema> end tag.
func scanOverlay(src []byte) ([]*overlayObject, int64, error) {
	d := xml.NewDecoder(bytes.NewReader(src))
	var objs []*overlayObject
	var cur *overlayObject
	schemaEnd := int64(-1)
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "Object":
				cur = &overlayObject{start: before, columns: map[string]bool{}}
				for _, a := range el.Attr {
					switch a.Name.Local {
					case "name":
						cur.name = a.Value
					case "table":
						cur.table = a.Value
					}
				}
				cur.selfClosing = bytes.HasSuffix(bytes.TrimSpace(src[before:d.InputOffset()]), []byte("/>"))
			case "Srel":
				if cur != nil {
					for _, a := range el.Attr {
						if a.Name.Local == "column" {
							cur.columns[a.Value] = true
						}
					}
				}
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "Object":
				if cur != nil {
					cur.end = before
					if cur.selfClosing {
						cur.end = d.InputOffset()
					}
					objs = append(objs, cur)
					cur = nil
				}
			case "Schema":
				schemaEnd = before
			}
		}
	}
	if schemaEnd < 0 {
		return nil, 0, errors.New("no </Schema> end tag")
	}
	return objs, schemaEnd, nil
}

// declaredSrels reads which object or table and column pairs the overlay
// file declares SRELs for.
func declaredSrels(path string) (map[string]bool, error) {
	out := map[string]bool{}
	if path == "" {
		return out, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading overlay: %w", err)
	}
	objs, _, err := scanOverlay(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range objs {
		for c := range o.columns {
			out[o.name+"\x00"+c] = true
			if o.table != "" {
				out[o.table[strings.LastIndex(o.table, ".")+1:]+"\x00"+c] = true
			}
		}
	}
	return out, nil
}

func srelElement(k KeptSrel) string {
	var b strings.Builder
	b.WriteString(`<Srel attr="`)
	xml.EscapeText(&b, []byte(k.Attr))
	b.WriteString(`" column="`)
	xml.EscapeText(&b, []byte(k.Column))
	b.WriteString(`" to="`)
	xml.EscapeText(&b, []byte(k.To))
	b.WriteString(`" toColumn="`)
	xml.EscapeText(&b, []byte(k.ToColumn))
	b.WriteString(`"`)
	if k.Eligible {
		b.WriteString(` serviceProviderEligible="true"`)
	}
	b.WriteString("/>")
	return b.String()
}

// Fragment is the overlay text declaring the SRELs the overlay lacks, as
// <Object> elements; "" when there are none.
func Fragment(kept []KeptSrel) string {
	var b strings.Builder
	for _, group := range byObject(kept) {
		k := group[0]
		fmt.Fprintf(&b, "  <Object name=\"%s\" table=\"%s\">\n", escape(k.Object), escape(k.Table))
		for _, k := range group {
			b.WriteString("    " + srelElement(k) + "\n")
		}
		b.WriteString("  </Object>\n")
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func byObject(kept []KeptSrel) [][]KeptSrel {
	var out [][]KeptSrel
	for _, k := range kept {
		if k.Declared {
			continue
		}
		if n := len(out); n > 0 && out[n-1][0].Object == k.Object {
			out[n-1] = append(out[n-1], k)
			continue
		}
		out = append(out, []KeptSrel{k})
	}
	return out
}

// insert replaces src[at:cut] with text.
type insert struct {
	at, cut int64
	text    string
}

// MergeOverlay returns the overlay src (nil: none) with the SRELs it lacks
// added: inside the object's <Object> element when it has one, else in a
// new one before </Schema>.
func MergeOverlay(src []byte, kept []KeptSrel) ([]byte, error) {
	if len(src) == 0 {
		return []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- SRELs whose foreign keys tenantkit distribute dropped -->\n<Schema>\n" + Fragment(kept) + "</Schema>\n"), nil
	}
	objs, schemaEnd, err := scanOverlay(src)
	if err != nil {
		return nil, err
	}
	var ins []insert
	var rest []KeptSrel
	for _, group := range byObject(kept) {
		var o *overlayObject
		for _, c := range objs {
			if c.name == group[0].Object {
				o = c
			}
		}
		if o == nil {
			rest = append(rest, group...)
			continue
		}
		var lines strings.Builder
		for _, k := range group {
			lines.WriteString("    " + srelElement(k) + "\n")
		}
		if o.selfClosing {
			// <Object …/> becomes <Object …>…</Object>.
			tag := string(src[o.start:o.end])
			tag = strings.TrimSuffix(strings.TrimRight(tag, " \t\r\n"), "/>")
			ins = append(ins, insert{at: o.start, cut: o.end, text: strings.TrimRight(tag, " ") + ">\n" + lines.String() + "  </Object>"})
		} else {
			// Before "</Object>", indented by two like the fixture overlays.
			ins = append(ins, insert{at: o.end, cut: o.end, text: "  " + strings.TrimLeft(lines.String(), " ") + "  "})
		}
	}
	if len(rest) > 0 {
		ins = append(ins, insert{at: schemaEnd, cut: schemaEnd, text: Fragment(rest)})
	}
	var b bytes.Buffer
	var pos int64
	slices.SortFunc(ins, func(a, b insert) int { return int(a.at - b.at) })
	for _, in := range ins {
		b.Write(src[pos:in.at])
		b.WriteString(in.text)
		pos = in.cut
	}
	b.Write(src[pos:])
	return b.Bytes(), nil
}
