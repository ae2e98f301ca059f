"""DynamoDB models (pynamodb) and one named function per access pattern. Query, never Scan."""
