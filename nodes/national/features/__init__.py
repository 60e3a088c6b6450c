"""Features of a national node, one folder per message class. Each folder's package defines
`FEATURE` (nodes/national/feature.py); `feature.discover()` finds them all: adding a class is
adding a folder here."""
