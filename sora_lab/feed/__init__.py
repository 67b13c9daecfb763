"""The ranked, cursor-paged feed: sessions, ranking, index, aggregates, steering and engagement writes."""
