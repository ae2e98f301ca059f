"""Media types the API accepts or returns beyond JSON (no imports: the route table needs them)."""

CSV_TYPES = ("text/csv", "application/csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EQUIPMENT_LIST_TYPES = [*CSV_TYPES, XLSX_TYPE]
PDF = "application/pdf"
