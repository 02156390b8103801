"""Every mapping between our records and FHIR R4, both ways, in one place.

- :mod:`shared.fhir.inbound`: a partner's FHIR JSON (a resource or a Bundle) to the records of
  :mod:`shared.domain.clinical`, or :class:`~shared.fhir.inbound.Malformed` with the FHIR path of the
  problem (never its value).
- :mod:`shared.fhir.outbound`: our records to FHIR R4 JSON (Appointment, ServiceRequest, Task,
  Observation), each validated by the FHIR library before it is returned.

The FHIR library (``fhir.resources``, its R4B models; the top-level package is R5) is imported here
and nowhere else: by the webhook processor and sender, never on the acknowledgement path (it costs a
few hundred milliseconds to import). It checks structure, cardinality and types, not code bindings,
so the codes we act on are checked here. Each mapping is tested by validating its output with the
library (tests/unit/test_fhir.py); a later FHIR read API reads from the same mappings.
"""
