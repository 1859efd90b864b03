"""Data lifecycle: erasing a learner and pruning old events, with every table kept at
ingest left as if the remaining events alone had been ingested."""
