"""Media types the API accepts or returns beyond JSON (no imports: the route table needs them)."""

CSV_TYPES = ("text/csv", "application/csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EQUIPMENT_LIST_TYPES = [*CSV_TYPES, XLSX_TYPE]
PDF = "application/pdf"
# What generic HTTP clients send and read for "a file" (openapi-python-client knows no other binary type):
# an equipment list may come as it (its bytes say CSV or XLSX), and a download is served as it on request.
OCTET_STREAM = "application/octet-stream"
DOWNLOADS = (PDF,)  # binary answers: also served as OCTET_STREAM to a client whose Accept names only that
SVG = "image/svg+xml"  # report charts (issue 13)
