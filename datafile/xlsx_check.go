package datafile

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/transform"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// excelize's row iterator ends a sheet quietly at the first XML error
// (Rows.Next drops the decoder's error), so a damaged or truncated sheet
// would read as a shorter one. Each sheet's part is therefore also read
// with a decoder of our own, alongside excelize, and the sheet counts only
// if its sheetData is well-formed to its end.

// sheetParts maps each sheet name of the workbook in z to the zip entry of
// its worksheet part, following the workbook's relationships. Sheets it
// cannot resolve are left out (excelize would not find them either).
func sheetParts(z *zip.Reader) map[string]*zip.File {
	files := make(map[string]*zip.File, len(z.File))
	for _, f := range z.File {
		files[strings.ToLower(strings.TrimPrefix(f.Name, "/"))] = f
	}
	rels := func(part string) relMap {
		relsPath := path.Join(path.Dir(part), "_rels", path.Base(part)+".rels")
		var doc struct {
			Rels []struct {
				ID     string `xml:"Id,attr"`
				Type   string `xml:"Type,attr"`
				Target string `xml:"Target,attr"`
			} `xml:"Relationship"`
		}
		out := relMap{}
		if readXMLPart(files, relsPath, &doc) != nil {
			return out
		}
		for _, r := range doc.Rels {
			t := r.Target
			if strings.HasPrefix(t, "/") {
				t = strings.TrimPrefix(t, "/")
			} else {
				t = path.Join(path.Dir(part), t)
			}
			out[r.ID] = t
			if strings.HasSuffix(r.Type, "/officeDocument") {
				out["officeDocument"] = t
			}
		}
		return out
	}
	wb := rels("").get("officeDocument", "xl/workbook.xml")
	var doc struct {
		Sheets []struct {
			Name  string     `xml:"name,attr"`
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	parts := map[string]*zip.File{}
	if readXMLPart(files, wb, &doc) != nil {
		return parts
	}
	wbRels := rels(wb)
	for _, s := range doc.Sheets {
		for _, a := range s.Attrs {
			if a.Name.Local == "id" && a.Name.Space != "" {
				if f := files[strings.ToLower(wbRels[a.Value])]; f != nil {
					parts[s.Name] = f
				}
			}
		}
	}
	return parts
}

type relMap map[string]string

func (m relMap) get(k, def string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return def
}

func readXMLPart(files map[string]*zip.File, name string, v any) error {
	f := files[strings.ToLower(name)]
	if f == nil {
		return errors.New("no part " + name)
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return newXMLDecoder(rc).Decode(v)
}

func newXMLDecoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		e, err := htmlindex.Get(label)
		if err != nil {
			return nil, err
		}
		return transform.NewReader(input, e.NewDecoder()), nil
	}
	return d
}

// sheetDamage describes a sheet part whose data is not well-formed XML.
type sheetDamage struct {
	part    string
	lastRow int // the last row whose XML is complete
	inRow   int // the row the damage is in, 0 if between rows
	err     error
}

// checkSheetXML reads a worksheet part to the end of its sheetData and
// reports where the XML breaks, if it does. stop, when set, abandons the
// check (the reader was closed).
func checkSheetXML(f *zip.File, stop *atomic.Bool) *sheetDamage {
	dmg := &sheetDamage{part: f.Name}
	rc, err := f.Open()
	if err != nil {
		dmg.err = err
		return dmg
	}
	defer rc.Close()
	d := newXMLDecoder(rc)
	var stack []xml.Name
	row, root := 0, false
	for n := 0; ; n++ {
		if n%4096 == 0 && stop != nil && stop.Load() {
			return nil
		}
		tok, err := d.RawToken()
		if err == io.EOF {
			switch {
			case len(stack) > 0:
				dmg.err = fmt.Errorf("the XML ends inside <%s>", qname(stack[len(stack)-1]))
			case !root:
				dmg.err = errors.New("the part holds no XML element")
			default:
				return nil // a sheet without sheetData
			}
			return dmg
		}
		if err != nil {
			dmg.err = err
			return dmg
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack, root = append(stack, t.Name), true
			if t.Name.Local == "row" && len(stack) == 3 {
				row++
				for _, a := range t.Attr {
					if a.Name.Local == "r" {
						if r, err := strconv.Atoi(a.Value); err == nil {
							row = r
						}
					}
				}
				dmg.inRow = row
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name {
				dmg.err = fmt.Errorf("unexpected </%s>", qname(t.Name))
				return dmg
			}
			stack = stack[:len(stack)-1]
			switch {
			case t.Name.Local == "row" && len(stack) == 2:
				dmg.lastRow, dmg.inRow = row, 0
			case t.Name.Local == "sheetData" && len(stack) == 1:
				return nil // the rest holds no cell data
			}
		}
	}
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// syntaxError positions the damage in the sheet.
func (d *sheetDamage) syntaxError(file string) *fault.PosError {
	var se *xml.SyntaxError
	detail := d.err.Error()
	if errors.As(d.err, &se) {
		detail = fmt.Sprintf("%s (line %d of the part)", se.Msg, se.Line)
	}
	if d.inRow > 0 {
		return errorAt(Pos{File: file, Line: d.inRow, Col: 1}, "damaged sheet: %s: %s in row %d; the sheet cannot be read past row %d", d.part, detail, d.inRow, d.lastRow)
	}
	return errorAt(Pos{File: file, Line: d.lastRow + 1, Col: 1}, "damaged sheet: %s: %s after row %d; the sheet cannot be read past it", d.part, detail, d.lastRow)
}
