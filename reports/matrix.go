package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wschaos/wschaos/result"
)

// The scenario-by-client matrix: one row per scenario, one column per
// client, each cell coloured by what its verdict means for that client. For
// the reference client or an outside command a failure is bad; for a mutant
// it is the point (the scenario caught it), and a pass is neither.

// Cell classes.
const (
	cellPass        = "pass"        // non-mutant passed
	cellFail        = "fail"        // non-mutant failed
	cellError       = "error"       // could not run
	cellNA          = "na"          // nothing to judge
	cellInterrupted = "interrupted" // cut short
	cellNotRun      = "notrun"      // the result says it was not run
	cellCaught      = "caught"      // a mutant failed: the scenario caught it
	cellMissed      = "missed"      // a mutant passed
	cellNone        = "none"        // no such scenario and client in the result
	maxCellCheck    = 22            // runes of a check name shown in a cell
	maxColumns      = 64            // clients beyond this get no column
	maxRows         = 400           // scenarios beyond this get no row
	matrixName      = "scenario"    // the header of the row-label column
	// Column widths in CSS px: style.css.tmpl sets the first two; mutant
	// columns share what is left of the table's width, which buildMatrix
	// sets to give each about colMutant.
	colRowHead, colClient, colMutant = 156, 92, 76
)

type matrix struct {
	Corner  string
	Columns []matrixColumn
	Rows    []matrixRow
	// Dropped counts scenario rows and client columns left out for size.
	DroppedRows, DroppedColumns int
	HasMutants                  bool
	// Width is the table's natural width in CSS px: a few columns stay
	// narrow, many shrink to the page.
	Width int
}

type matrixColumn struct {
	Name        string
	Description string
	Mutant      bool
	// Status and Sub are shown under the name: "✓ caught" and "by 3" for
	// a mutant, "33/34" and "passed" otherwise.
	Status, Sub string
	StatusClass string
	// Head is the anchor of this column's group of sections.
	Head string
}

type matrixRow struct {
	Name  string
	ID    string // the first cell's anchor
	Cells []matrixCell
}

type matrixCell struct {
	ID    string // the section's anchor; "" when not run
	Class string
	Pre   string // a muted prefix, such as "rec"
	Text  string
	Title string
}

// column is one client of the run, in matrix order.
type column struct {
	result.Client
	// known is false for clients named only in Scenarios.
	known bool
}

// columnsOf lists the run's clients in column order: Result.Clients as
// given, then any client named in Scenarios but not listed there, in order
// of first appearance.
func columnsOf(r *result.Result) []column {
	var cols []column
	seen := map[string]bool{}
	for _, c := range r.Clients {
		if !seen[c.Name] {
			seen[c.Name] = true
			cols = append(cols, column{Client: c, known: true})
		}
	}
	for i := range r.Scenarios {
		if n := r.Scenarios[i].Client; !seen[n] {
			seen[n] = true
			cols = append(cols, column{Client: result.Client{Name: n}})
		}
	}
	return cols
}

// rowsOf lists the distinct scenario names in order of first appearance.
func rowsOf(r *result.Result) []string {
	var rows []string
	seen := map[string]bool{}
	for i := range r.Scenarios {
		if n := r.Scenarios[i].Name; !seen[n] {
			seen[n] = true
			rows = append(rows, n)
		}
	}
	return rows
}

// caught reports whether s failed against a mutant in a way that counts as
// catching it: a check failed, not the setup.
func caught(s *result.Scenario) bool { return s.Verdict == result.Fail && s.Error == "" }

func firstFailed(s *result.Scenario) (name string, n int) {
	for _, c := range s.Checks {
		if c.Failed() {
			if n == 0 {
				name = c.Name
			}
			n++
		}
	}
	return name, n
}

// keyFigure is the one number a passing cell shows: the recovery time, or
// the detection time where nothing recovered.
func keyFigure(m *result.Measured) (pre, text string) {
	switch {
	case m.RecoverMS != nil && finite(*m.RecoverMS):
		return "rec", fmtMS(math.Round(*m.RecoverMS))
	case m.DetectMS != nil && finite(*m.DetectMS):
		return "det", fmtMS(math.Round(*m.DetectMS))
	}
	return "", "✓"
}

func cellTitle(s *result.Scenario, verdict string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s × %s: %s", s.Name, s.Client, verdict)
	if s.Error != "" {
		fmt.Fprintf(&b, " · could not run: %s", clip(s.Error, 200))
	}
	for _, c := range s.Checks {
		if c.Failed() {
			fmt.Fprintf(&b, " · %s got %s, want %s", c.Name, clip(c.Got, 60), clip(c.Want, 60))
		}
	}
	if m := s.Measured; m.DetectMS != nil || m.RecoverMS != nil {
		fmt.Fprintf(&b, " · detect %s, recover %s", optMSText(m.DetectMS), optMSText(m.RecoverMS))
	}
	return b.String()
}

// buildMatrix lays out r as scenarios by clients. ids holds each
// scenario's anchor, heads each column's group anchor.
func buildMatrix(r *result.Result, cols []column, ids []string, heads map[string]string) *matrix {
	rows := rowsOf(r)
	m := &matrix{Corner: matrixName}
	if len(cols) > maxColumns {
		m.DroppedColumns = len(cols) - maxColumns
		cols = cols[:maxColumns]
	}
	if len(rows) > maxRows {
		m.DroppedRows = len(rows) - maxRows
		rows = rows[:maxRows]
	}
	m.Width = colRowHead + 2*(len(cols)+2)
	for _, c := range cols {
		m.HasMutants = m.HasMutants || c.Mutant
		if c.Mutant {
			m.Width += colMutant
		} else {
			m.Width += colClient
		}
	}
	cell := cellIndex(r, rows, cols)
	for ci, c := range cols {
		m.Columns = append(m.Columns, matrixHead(r, c, cell, ci, heads[c.Name]))
	}
	for ri, name := range rows {
		row := matrixRow{Name: name}
		for ci, c := range cols {
			si := cell[ri][ci]
			if si < 0 {
				row.Cells = append(row.Cells, matrixCell{Class: cellNone, Title: name + " × " + c.Name + ": not in this result"})
				continue
			}
			mc := matrixCellOf(&r.Scenarios[si], c.Mutant)
			mc.ID = ids[si]
			if row.ID == "" {
				row.ID = mc.ID
			}
			row.Cells = append(row.Cells, mc)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// cellIndex returns, per row and column, the index of the scenario that
// fills the cell (the first run of that scenario and client), or -1.
func cellIndex(r *result.Result, rows []string, cols []column) [][]int {
	rowIndex := make(map[string]int, len(rows))
	for i, n := range rows {
		rowIndex[n] = i
	}
	colIndex := make(map[string]int, len(cols))
	for i, c := range cols {
		colIndex[c.Name] = i
	}
	cell := make([][]int, len(rows))
	for i := range cell {
		cell[i] = make([]int, len(cols))
		for j := range cell[i] {
			cell[i][j] = -1
		}
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		ri, ok1 := rowIndex[s.Name]
		ci, ok2 := colIndex[s.Client]
		if ok1 && ok2 && cell[ri][ci] < 0 {
			cell[ri][ci] = i
		}
	}
	return cell
}

// matrixHead is column ci's header: a mutant's standing as the result
// holds it, or how many of the client's scenarios passed.
func matrixHead(r *result.Result, c column, cell [][]int, ci int, head string) matrixColumn {
	mc := matrixColumn{Name: c.Name, Description: c.Description, Mutant: c.Mutant, Head: head}
	total, hits := 0, 0
	by := map[result.Verdict]int{}
	for ri := range cell {
		if si := cell[ri][ci]; si >= 0 {
			s := &r.Scenarios[si]
			total++
			by[s.Verdict]++
			if caught(s) {
				hits++
			}
		}
	}
	switch {
	case c.Mutant:
		mc.Status, mc.StatusClass = "✗ not caught", cellFail
		if len(c.Missed) > 0 {
			mc.Sub = fmt.Sprintf("%d check%s missed", len(c.Missed), plural(len(c.Missed)))
		}
		if c.Caught {
			mc.Status, mc.StatusClass = "✓ caught", cellCaught
			if hits > 0 {
				mc.Sub = fmt.Sprintf("by %d of %d", hits, total)
			}
		}
	default:
		mc.Status, mc.Sub = fmt.Sprintf("%d/%d", by[result.Pass], total), "passed"
		for _, v := range []result.Verdict{result.NotApplicable, result.Interrupted, result.NotRun} {
			if n := by[v]; n > 0 {
				mc.Sub += fmt.Sprintf(", %d %s", n, verdictOf(v).Word)
			}
		}
		switch {
		case by[result.Pass]+by[result.NotApplicable]+by[result.Interrupted]+by[result.NotRun] < total:
			mc.StatusClass = cellFail
		case by[result.Interrupted]+by[result.NotRun] > 0:
			mc.StatusClass = cellInterrupted
		default:
			mc.StatusClass = cellPass
		}
	}
	return mc
}

// matrixCellOf is the cell of s, against a mutant or not.
func matrixCellOf(s *result.Scenario, mutant bool) matrixCell {
	var mc matrixCell
	check, n := firstFailed(s)
	failed := clip(check, maxCellCheck)
	if n > 1 {
		failed += " +" + strconv.Itoa(n-1)
	}
	if check == "" {
		failed = "failed"
	}
	switch {
	case s.Verdict == result.Interrupted:
		mc.Class, mc.Text = cellInterrupted, "interrupted"
	case s.Verdict == result.NotRun:
		mc.Class, mc.Text = cellNotRun, "not run"
	case s.Verdict == result.NotApplicable:
		mc.Class, mc.Text = cellNA, "n/a"
	case s.Error != "" && s.Verdict == result.Fail:
		mc.Class, mc.Text = cellError, "could not run"
	case mutant && s.Verdict == result.Fail:
		// The column is a mutant's and the colour says caught: the cell
		// has room for the check's name alone.
		mc.Class, mc.Text = cellCaught, failed
		mc.Title = cellTitle(s, "caught")
	case mutant:
		mc.Class, mc.Text = cellMissed, "pass"
		mc.Title = cellTitle(s, "passed (not caught here)")
	case s.Verdict == result.Fail:
		mc.Class, mc.Pre, mc.Text = cellFail, "✗", failed
	default:
		mc.Class = cellPass
		mc.Pre, mc.Text = keyFigure(&s.Measured)
	}
	if mc.Title == "" {
		mc.Title = cellTitle(s, verdictOf(s.Verdict).Word)
	}
	return mc
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
