from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Contract §0: newest first, `page_size` up to 200, stable while rows are
    inserted. Ordering by (created_at, id) keeps the cursor unique on ties."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
