"""Steps of a run (one per component: Langflow's spans, or what a runner records), their
timeline and per-component aggregates, and tokens with optional per-model prices."""
