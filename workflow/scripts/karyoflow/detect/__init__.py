"""Detection stage (torch side): the YOLO dataset, offline Ultralytics runtime, training,
sharded inference, and karyoflow's own detection metrics and evaluation."""
