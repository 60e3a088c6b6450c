"""Person alerts: name matching across scripts (names.py). The feature's store, routes and border
check come with the redesign (issue 16 part 1)."""
