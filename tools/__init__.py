"""Generators of production tables (run by hand; their output is committed and checked by
tests): tools.r4_spec writes adapters/fhir/r4_definitions.py, tools.train_mpi_* the MPI
matcher's parameters."""
