"""Karyotype stage: per-cell calls (`calls`), karyograms (`karyogram`), their scoring
(`evaluate`) and the predict summary (`predict`)."""
