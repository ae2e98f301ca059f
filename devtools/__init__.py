"""Developer tooling: local run command, tokens, snapshots, demo data, benchmark. Not deployed."""
