"""The embedded local AWS (moto) behind `make run`, the tests and the benchmark.

`moto_patches` makes moto's DynamoDB fast and serializable, `snapshot` keeps local data
on disk, `calls` records the AWS calls a process makes (the No-Scan guard, the benchmark).
"""
