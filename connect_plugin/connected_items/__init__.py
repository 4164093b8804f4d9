"""Everything about a connected item: its CRUD service, the query and its variables,
the mapping of an answer to options, the options read model and pipeline, the
configuration tester, and the values stored on issues."""
