"""Hand-run benchmarks for the Cari gateway (``make bench`` / ``python -m benchmarks``).

These are measurements, never tests: nothing here asserts a time budget. Every benchmark
starts the gateway as a real process (``python cli.py serve``) on 127.0.0.1 (fhir_validate
runs in-process: it measures the validator alone), prints a
human-readable result line per measurement and writes its figures as JSON to
``benchmarks/results/<name>.json`` (git-ignored).

    python -m benchmarks                       # all of them, then a summary table
    python -m benchmarks cold_start            # just one
    python -m benchmarks http_throughput --duration 5 --connections 8
    python -m benchmarks http_throughput --profile   # + py-spy profile of the server

Modules:
    cold_start       launch -> first ``/healthz`` 200, fresh and existing data dir
    http_throughput  req/s and p50/p99 for ``GET /healthz`` and a GraphQL ``patient(id:)``
                     query, on SQLite and (if reachable) PostgreSQL
    mpi_febrl_http   FEBRL 1-4 stored and matched through the public routes ($match), with
                     the register profile the gateway takes; precision, recall, F1
    registration     POST /api/patients and FHIR Patient create at 16 connections, rows counted
    workers_scaling  1 vs 2 worker processes on PostgreSQL (GraphQL read, webhook intake)
    read_scaling     patient and lab-results reads at 10k and 1M Observations (PostgreSQL,
                     seeded in bulk by SQL), and their ratio
    upload_memory    peak RSS while 16 clients each send a 50 MB body (chunked and with
                     Content-Length) to a public webhook and to /graphql
    cross_border     cross-border lookup p50/p99: one country vs a fan-out over eight HIE
                     stand-ins, one 2 s late with a 1 s timeout, with and without the breaker
    dhis2_export     one quarter's DHIS2 export for 1,000 facilities over 1M Observations
                     (PostgreSQL, in-process): time, SQL statements, peak Python memory
    cds_hooks_http   CDS Hooks drug-interaction-check with 5 and 20 medications over HTTP:
                     p50/p99 and req/s at 1 and 8 connections
    cds_check        the drug-interaction checker alone (in-process) on 5 and 20 medications,
                     by name and by code: load/index time, p50/p99 per check
    webhook_fanout   1,000 events to 10 webhook endpoints (a local receiver): deliveries/s
                     and end-to-end latency p50/p99, on SQLite and (if reachable) PostgreSQL
    dicom_access     POST /api/clinical/dicom/access against a real Orthanc, and study metadata
                     through the viewer proxy vs Orthanc directly: p50/p99 over HTTP
    console_pages    the console's pages (message log filters, a deep keyset page, one message,
                     the overview per window) with 100k messages seeded: p50/p95/p99 per page
    console_health_failures  the console's health and failures pages over 100k outbox rows and
                     100k webhook deliveries (20 endpoints): p50/p95/p99 per page
    appointment_reminders  1,000 Appointments on SQLite, in process: FHIR writes/s with and
                     without the reminders' watch notice; reminders computed and scheduled
                     per second (new and rescheduled), p50/p99 per appointment
    lab_alert_fanout critical HL7 results to 10 live GraphQL subscribers (graphql-transport-ws):
                     HL7 POST -> subscription event p50/p99, events/s in a burst; SQLite and
                     (if reachable) PostgreSQL
    whatsapp_send    2,000 scheduled WhatsApp messages drained against the fake Graph API
                     (messages/s), and signed webhook intake req/s; SQLite and PostgreSQL
    console_review_alerts_payments  the console's MPI review, lab alert and payment pages
                     with 1,000 held lab results (HTTP ingest) and 50,000 payments: p50/p95/p99
    read_ratios      each read as a share of { __typename }, the two alternating round by
                     round (--runs rounds): median, min and max of the paired ratios
"""

BENCHMARKS = ("cold_start", "http_throughput", "read_ratios", "fhir_validate", "hl7_parse",
              "mpi_match",
              "mpi_match_http",
              "mpi_accuracy", "mpi_febrl_http",
              "webhook_ack", "registration", "workers_scaling", "read_scaling",
              "upload_memory", "cross_border", "dhis2_export", "cds_hooks_http",
              "cds_check",
              "dicom_access", "webhook_fanout", "appointment_reminders",
              "lab_alert_fanout", "whatsapp_send", "console_pages",
              "console_review_alerts_payments", "console_health_failures")
