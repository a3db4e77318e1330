package pages

import (
	"github.com/a-h/templ"

	"gatehouse/views/components"
)

// ListView is a list page of any entity: its search, filters and sort
// (List), the page of rows, the links to its neighbours, the bulk actions
// and the CSV export.
type ListView struct {
	Title, Name, Plural string
	List                components.List
	// Capped is true when more rows match than were counted
	// (List.Total is then the count's limit).
	Capped      bool
	SearchLabel string
	Filters     []ListFilter
	Sorts       []components.Option
	Columns     []ListColumn
	Rows        []ListRow
	// Prev, Next and First are the neighbouring pages ("" for none).
	Prev, Next, First string
	Export            string
	NewLabel, NewHref string
	// Bulk are the bulk actions; BulkAction is where they post.
	Bulk       []components.Option
	BulkAction string
	// BulkDays is true when an action asks for a number of days.
	BulkDays bool
	// Here is this page's address, to come back to.
	Here string
}

// ListFilter is one filter of a list: a picker, a select of Options, or a
// text field.
type ListFilter struct {
	Name, Title, Value string
	Options            []components.Option
	// Picker, when set, is the filter's control (a search for one of
	// many users or packages).
	Picker *components.Picker
}

// ListColumn is a column header; Sort is its sort key ("" when it does not
// sort).
type ListColumn struct {
	Title, Sort string
}

// ListRow is one row of a list.
type ListRow struct {
	ID       int
	Label    string
	Href     string
	EditHref string
	Cells    []templ.Component
	// Action is another action beside Edit (nil for none).
	Action templ.Component
}

// DeleteView is the confirmation before a record is deleted.
type DeleteView struct {
	Title, Name, Label string
	Action             string
	// Effects lists what goes with the record.
	Effects []string
	// Blocked says why the server would refuse: the page offers no
	// Delete button then, and links FixHref.
	Blocked, FixHref, FixLabel string
	Self                       bool
	Error                      string
	Back, BackLabel, Return    string
}

// BulkView is the confirmation of a bulk action.
type BulkView struct {
	Title  string
	Plural string
	Action string
	// Key and Label are the action's.
	Key, Label string
	Danger     bool
	Count      int
	// All: every row matching Scope (the list's query); else IDs.
	All     bool
	Scope   string
	IDs     []int
	AskDays bool
	Days    string
	// Sample names some of the rows (Value is the row's address).
	Sample  []components.Option
	Effects []string
	// Error is why the action cannot be done (no button then) or why it
	// failed (nothing was changed).
	Error        string
	Back, Return string
}
