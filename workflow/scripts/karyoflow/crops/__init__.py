"""Crops stage: instances cut out by their masks onto one canvas per crop (`canvas`,
`extract`, sharded then merged) and imported crop sets and karyogram exports (`imports`)."""
