"""Side-by-side benchmarks: the project vs raw redis-py vs naive redis-om (issue 7).

Not part of the default test run (every test is marked ``benchmark``). Run::

    pytest -m benchmark tests/benchmarks

See ``tests/benchmarks/README.md``.
"""
