from datetime import UTC, datetime

from django.core.exceptions import ValidationError as ModelValidationError
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

from core.fields import PLAIN_INTEGER
from core.problems import Problem


class InvalidCursor(Problem):
    """A `cursor` the server did not make: edited, truncated or made up."""

    default_detail = "The pagination cursor is invalid; start again from the first page."

    def __init__(self):
        super().__init__(slug="invalid-cursor")


class NewestFirstCursorPagination(CursorPagination):
    """Lists (docs/api.md#lists): newest first, `page_size` up to 200, stable while rows are
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
        # Plain ASCII digits only: int() would also read "1_0" as 10 and
        # other scripts' digits ("٥", "５") or " 5" as 5.
        size = int(raw) if PLAIN_INTEGER.fullmatch(raw) else 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [
                f"Must be an integer from 1 to {self.max_page_size} (larger values are capped)."]})
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model  # whose ordering field a cursor's position is checked against
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        """A cursor is only ever one the server made: DRF's 404 for one it
        cannot decode, and the crash deep in the query for a position that is
        no value of the ordering field (`p=x`), are both a 400 `invalid-cursor`."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise InvalidCursor() from None
        if cursor is not None and cursor.position is not None and not self._is_position(cursor.position):
            raise InvalidCursor()
        return cursor

    def _is_position(self, text: str) -> bool:
        """Whether `text` converts to a value of the ordering's first field
        the database can compare with: in the field's range, and for a time
        aware (as every position written from a stored row is) and within
        the years a UTC datetime can hold."""
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.clean(text, None)
            if isinstance(value, datetime):
                if timezone.is_naive(value):
                    return False
                value.astimezone(UTC)  # OverflowError past the last UTC datetime
        except (ModelValidationError, OverflowError):
            return False
        return True
