from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Contract §0: newest first, `page_size` up to 200, stable while rows are
    inserted. Ordering by (created_at, id) keeps the cursor unique on ties."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """Above the maximum is capped; anything but a positive integer is a
        422 (DRF would silently fall back to the default page size, so a
        client's typo would go unnoticed)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [
                f"Must be an integer from 1 to {self.max_page_size} (larger values are capped)."]})
        return min(size, self.max_page_size)
