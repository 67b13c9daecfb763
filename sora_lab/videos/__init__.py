"""Videos after generation: request checks, the job queue and its worker, lifecycle and reads."""
