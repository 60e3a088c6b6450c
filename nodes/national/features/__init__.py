"""Features of a national node, one folder each (issue 16: the redesign plugs them in)."""
