// Package htmltest parses a page written by htmlreport back into numbers, for tests:
// the summary counts, the status of every table row, the plan and finding groups, and
// every reference to a resource outside the page.
package htmltest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// Page is what a test checks.
type Page struct {
	Root        *html.Node
	Title       string
	CommandLine string
	Tenant      string
	Version     string
	Total       int            // the summary's total
	Counts      map[string]int // summary: status -> number
	RowStatus   []string       // data-status of every row of the rows table, in order
	RowText     []string       // text of every row of the rows table
	Plan        map[string]int // plan: action -> devices (nil without a plan)
	Findings    map[string]int // finding groups: "error:code" / "warning:code" -> occurrences
	FindingLocs map[string][]string
	Files       [][3]string // name, size, sha256 of the input files
	External    []string    // attributes or CSS that point outside the page
	Problems    []string    // accessibility and integrity problems found
	Text        string      // all text of the page
}

// Parse reads a page.
func Parse(r io.Reader) (*Page, error) {
	root, err := html.Parse(r)
	if err != nil {
		return nil, err
	}
	p := &Page{Root: root, Counts: map[string]int{}, Findings: map[string]int{}, FindingLocs: map[string][]string{}}
	var scripts, styles []string
	var csp string
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
			text.WriteString(" ")
		}
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				v := strings.TrimSpace(strings.ToLower(a.Val))
				switch a.Key {
				case "src", "href", "action", "formaction", "poster", "data", "srcset", "xlink:href", "background", "manifest", "ping", "cite":
					if !strings.HasPrefix(v, "#") && !strings.HasPrefix(v, "data:") {
						p.External = append(p.External, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
					}
				case "style":
					if externalCSS(v) {
						p.External = append(p.External, fmt.Sprintf("<%s style=%q>", n.Data, a.Val))
					}
				}
				if strings.HasPrefix(a.Key, "on") {
					p.Problems = append(p.Problems, fmt.Sprintf("inline event handler <%s %s>", n.Data, a.Key))
				}
			}
			switch n.Data {
			case "script":
				if attr(n, "src") != "" {
					p.External = append(p.External, "<script src>")
				}
				scripts = append(scripts, textOf(n))
			case "style":
				styles = append(styles, textOf(n))
			case "link", "iframe", "img", "object", "embed", "video", "audio", "source", "base", "frame":
				if n.Data != "img" || !strings.HasPrefix(attr(n, "src"), "data:") {
					p.External = append(p.External, "<"+n.Data+">")
				}
			case "meta":
				if strings.EqualFold(attr(n, "http-equiv"), "Content-Security-Policy") {
					csp = attr(n, "content")
				}
				if strings.EqualFold(attr(n, "http-equiv"), "refresh") {
					p.External = append(p.External, "<meta refresh>")
				}
			case "title":
				p.Title = strings.TrimSpace(textOf(n))
			case "table":
				p.table(n)
			case "article":
				if c := attr(n, "data-code"); c != "" {
					key := "error:" + c
					if strings.Contains(attr(n, "class"), "sev-warning") {
						key = "warning:" + c
					}
					p.Findings[key], _ = strconv.Atoi(attr(n, "data-total"))
					for _, code := range findAll(n, "code") {
						p.FindingLocs[key] = append(p.FindingLocs[key], textOf(code))
					}
					if len(p.FindingLocs[key]) > 0 {
						p.FindingLocs[key] = p.FindingLocs[key][1:] // the heading's code
					}
				}
			}
			switch attr(n, "id") {
			case "command-line":
				p.CommandLine = textOf(n)
			case "tenant":
				p.Tenant = textOf(n)
			case "version":
				p.Version = textOf(n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	p.Text = strings.Join(strings.Fields(text.String()), " ")
	for _, s := range styles {
		if externalCSS(strings.ToLower(s)) {
			p.External = append(p.External, "<style> with url() or @import")
		}
	}
	// Every inline script must be allowed by its hash in the CSP, and the CSP must
	// forbid everything else.
	if !strings.Contains(csp, "default-src 'none'") {
		p.Problems = append(p.Problems, "no Content-Security-Policy with default-src 'none': "+csp)
	}
	for _, s := range scripts {
		h := sha256.Sum256([]byte(s))
		if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(h[:])+"'") {
			p.Problems = append(p.Problems, "an inline script is not allowed by the CSP hash")
		}
	}
	return p, nil
}

var cssURL = regexp.MustCompile(`url\(\s*['"]?\s*(https?:|//|[a-z]+:)|@import`)

func externalCSS(s string) bool {
	for _, m := range cssURL.FindAllString(s, -1) {
		if !strings.Contains(m, "data:") {
			return true
		}
	}
	return false
}

func (p *Page) table(t *html.Node) {
	if first := firstElement(t); first == nil || first.Data != "caption" {
		p.Problems = append(p.Problems, fmt.Sprintf("table #%s has no caption as its first child", attr(t, "id")))
	}
	for _, th := range findAll(t, "th") {
		if attr(th, "scope") == "" {
			p.Problems = append(p.Problems, fmt.Sprintf("table #%s: <th> %q without scope", attr(t, "id"), textOf(th)))
		}
	}
	switch attr(t, "id") {
	case "summary-table":
		p.Total, _ = strconv.Atoi(attr(t, "data-total"))
		for _, tr := range rowsOf(t, "tbody") {
			for _, td := range findAll(tr, "td") {
				if v := attrOK(td, "data-count"); v != nil {
					p.Counts[attr(tr, "data-status")], _ = strconv.Atoi(*v)
				}
			}
		}
	case "plan-table":
		p.Plan = map[string]int{}
		for _, tr := range rowsOf(t, "tbody") {
			for _, td := range findAll(tr, "td") {
				if v := attrOK(td, "data-count"); v != nil {
					p.Plan[attr(tr, "data-action")], _ = strconv.Atoi(*v)
				}
			}
		}
	case "rows-table":
		for _, tr := range rowsOf(t, "tbody") {
			p.RowStatus = append(p.RowStatus, attr(tr, "data-status"))
			p.RowText = append(p.RowText, textOf(tr))
		}
	case "files":
		for _, tr := range rowsOf(t, "tbody") {
			var cells []string
			for c := tr.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					cells = append(cells, strings.TrimSpace(textOf(c)))
				}
			}
			if len(cells) == 3 {
				p.Files = append(p.Files, [3]string{cells[0], cells[1], cells[2]})
			}
		}
	}
}

// StatusCounts counts the rows of the rows table by status.
func (p *Page) StatusCounts() map[string]int {
	m := map[string]int{}
	for _, s := range p.RowStatus {
		m[s]++
	}
	return m
}

func rowsOf(t *html.Node, section string) []*html.Node {
	var out []*html.Node
	for _, s := range findAll(t, section) {
		out = append(out, findAll(s, "tr")...)
	}
	return out
}

func firstElement(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}

func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == tag {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	if v := attrOK(n, key); v != nil {
		return *v
	}
	return ""
}

func attrOK(n *html.Node, key string) *string {
	for _, a := range n.Attr {
		if a.Key == key {
			v := a.Val
			return &v
		}
	}
	return nil
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
