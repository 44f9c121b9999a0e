"""Straightening stage: the methods (`methods`), sharded batch jobs over a crop set (`run`)
and their scoring on synthetic centrelines (`evaluate`)."""
