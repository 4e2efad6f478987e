"""Stock Langflow (1.8 and newer) as a source of runs: its native traces, spans and jobs,
read without ever writing to its tables, copied into ours (see docs/langflow.md)."""
