package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The scenario-by-client matrix: one row per scenario, one column per
// client, each cell coloured by what its verdict means for that client. For
// the reference client or an outside command a failure is bad; for a mutant
// it is the point (the scenario caught it), and a pass is neither.

// Cell classes.
const (
	cellPass     = "pass"     // non-mutant passed
	cellFail     = "fail"     // non-mutant failed
	cellError    = "error"    // could not run
	cellCaught   = "caught"   // a mutant failed: the scenario caught it
	cellMissed   = "missed"   // a mutant passed
	cellNotRun   = "none"     // no such scenario and client in the result
	maxCellCheck = 22         // runes of a check name shown in a cell
	maxColumns   = 64         // clients beyond this get no column
	maxRows      = 400        // scenarios beyond this get no row
	matrixName   = "scenario" // the header of the row-label column
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
	Client
	// known is false for clients named only in Scenarios.
	known bool
}

// columnsOf lists the run's clients in column order: Result.Clients as
// given, then any client named in Scenarios but not listed there, in order
// of first appearance.
func columnsOf(r *Result) []column {
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
			cols = append(cols, column{Client: Client{Name: n}})
		}
	}
	return cols
}

// rowsOf lists the distinct scenario names in order of first appearance.
func rowsOf(r *Result) []string {
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
func caught(s *Scenario) bool { return s.Verdict != Pass && s.Error == "" }

func firstFailed(s *Scenario) (name string, n int) {
	for _, c := range s.Checks {
		if !c.OK {
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
func keyFigure(m *Measured) (pre, text string) {
	switch {
	case m.RecoverMS != nil && finite(*m.RecoverMS):
		return "rec", fmtMS(math.Round(*m.RecoverMS))
	case m.DetectMS != nil && finite(*m.DetectMS):
		return "det", fmtMS(math.Round(*m.DetectMS))
	}
	return "", "✓"
}

func cellTitle(s *Scenario, verdict string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s × %s: %s", s.Name, s.Client, verdict)
	if s.Error != "" {
		fmt.Fprintf(&b, " · could not run: %s", clip(s.Error, 200))
	}
	for _, c := range s.Checks {
		if !c.OK {
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
func buildMatrix(r *Result, cols []column, ids []string, heads map[string]string) *matrix {
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
	colIndex := make(map[string]int, len(cols))
	m.Width = colRowHead + 2*(len(cols)+2)
	for i, c := range cols {
		colIndex[c.Name] = i
		m.HasMutants = m.HasMutants || c.Mutant
		if c.Mutant {
			m.Width += colMutant
		} else {
			m.Width += colClient
		}
	}
	rowIndex := make(map[string]int, len(rows))
	for i, n := range rows {
		rowIndex[n] = i
	}
	// The first run of each scenario and client fills its cell.
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
	for ci, c := range cols {
		mc := matrixColumn{Name: c.Name, Description: c.Description, Mutant: c.Mutant, Head: heads[c.Name]}
		pass, total, hits := 0, 0, 0
		for ri := range rows {
			if si := cell[ri][ci]; si >= 0 {
				s := &r.Scenarios[si]
				total++
				if s.Verdict == Pass {
					pass++
				}
				if caught(s) {
					hits++
				}
			}
		}
		switch {
		case c.Mutant:
			got := hits > 0
			if c.known {
				got = c.Caught
			}
			mc.Status, mc.StatusClass = "✗ not caught", cellFail
			if got {
				mc.Status, mc.StatusClass = "✓ caught", cellCaught
				if hits > 0 {
					mc.Sub = fmt.Sprintf("by %d of %d", hits, total)
				}
			}
		default:
			mc.Status, mc.Sub = fmt.Sprintf("%d/%d", pass, total), "passed"
			mc.StatusClass = cellPass
			if pass < total {
				mc.StatusClass = cellFail
			}
		}
		m.Columns = append(m.Columns, mc)
	}
	for ri, name := range rows {
		row := matrixRow{Name: name}
		for ci, c := range cols {
			si := cell[ri][ci]
			if si < 0 {
				row.Cells = append(row.Cells, matrixCell{Class: cellNotRun, Text: "", Title: name + " × " + c.Name + ": not run"})
				continue
			}
			s := &r.Scenarios[si]
			mc := matrixCell{ID: ids[si]}
			if row.ID == "" {
				row.ID = mc.ID
			}
			check, n := firstFailed(s)
			more := ""
			if n > 1 {
				more = " +" + strconv.Itoa(n-1)
			}
			switch {
			case s.Error != "":
				mc.Class, mc.Text = cellError, "could not run"
				mc.Title = cellTitle(s, "could not run")
			case c.Mutant && s.Verdict != Pass:
				// The column is a mutant's and the colour says caught: the
				// cell has room for the check's name alone.
				mc.Class, mc.Text = cellCaught, clip(check, maxCellCheck)+more
				if check == "" {
					mc.Text = "failed"
				}
				mc.Title = cellTitle(s, "caught")
			case c.Mutant:
				mc.Class, mc.Text = cellMissed, "pass"
				mc.Title = cellTitle(s, "passed (not caught here)")
			case s.Verdict != Pass:
				mc.Class, mc.Pre, mc.Text = cellFail, "✗", clip(check, maxCellCheck)+more
				if check == "" {
					mc.Text = "failed"
				}
				mc.Title = cellTitle(s, "FAILED")
			default:
				mc.Class = cellPass
				mc.Pre, mc.Text = keyFigure(&s.Measured)
				mc.Title = cellTitle(s, "passed")
			}
			row.Cells = append(row.Cells, mc)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}
