"""Developer-side tooling (never deployed): reading ``template.yaml`` and standing the stack up in moto.

Tests, benchmarks and the local runtime all provision from the template through :mod:`local.template`,
so the table, its indexes, routes and functions are declared once, in ``template.yaml``.
"""
