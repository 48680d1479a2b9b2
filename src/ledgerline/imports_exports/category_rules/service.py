"""Category rules of an org, kept in order (positions 1..n), and the ``Categoriser`` statement
imports ask for each row's category.

Writes are flushed here and committed by the route layer, each audited in its own
transaction; the org's row is locked while positions move, so concurrent changes queue.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, any_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.errors import Conflict, NotFound
from ledgerline.core.text import has_control_characters
from ledgerline.imports_exports.category_rules.models import (
    NOTES_KEY_LENGTH,
    CategoryRule,
    RuleField,
    RuleMatch,
    notes_key,
)
from ledgerline.imports_exports.category_rules.schemas import RuleCreate, RuleRead, RuleUpdate
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.records.models import Category, Record

RULE_NOT_FOUND = "category rule not found"
MAX_RULES = 500
"""Rules an org may keep: every statement import loads them all."""
LOOKUP_CHUNK = 2_000
"""Distinct descriptions per query for the last-time lookup (bound parameters stay few)."""
MAX_NOTES_CHARS = 1_000


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


@dataclass(frozen=True, slots=True)
class _Rule:
    match: RuleMatch
    pattern: str
    case_sensitive: bool
    category: str

    def matches(self, description: str, folded: str) -> bool:
        text = description if self.case_sensitive else folded
        if self.match is RuleMatch.CONTAINS:
            return self.pattern in text
        if self.match is RuleMatch.STARTS_WITH:
            return text.startswith(self.pattern)
        return text == self.pattern


@dataclass(slots=True)
class Categoriser:
    """An org's categories for statement rows, by description: the first rule that matches in
    position order, else the category of the org's most recent live record (not deleted, not
    a transfer leg; latest date, then latest created) whose notes equal the description, else
    None. Rules are loaded once; each description is decided once and remembered, so an import
    asking batch after batch queries the records only for descriptions it has not seen."""

    session: AsyncSession
    org_id: uuid.UUID
    rules: list[_Rule]
    _known: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, org_id: uuid.UUID) -> Categoriser:
        rows = await session.scalars(
            select(CategoryRule)
            .where(CategoryRule.org_id == org_id)
            .order_by(CategoryRule.position, CategoryRule.created_at, CategoryRule.id)
        )
        rules = [
            _Rule(
                match=RuleMatch(row.match),
                pattern=(
                    unicodedata.normalize("NFC", row.pattern)
                    if row.case_sensitive
                    else _folded(row.pattern)
                ),
                case_sensitive=row.case_sensitive,
                category=row.category,
            )
            for row in rows
        ]
        return cls(session=session, org_id=org_id, rules=rules)

    def rule_category(self, description: str) -> str | None:
        """The category of the first rule matching ``description``, if any."""
        if not self.rules:
            return None
        description = unicodedata.normalize("NFC", description)
        folded = description.casefold()
        for rule in self.rules:
            if rule.matches(description, folded):
                return rule.category
        return None

    async def categories_for(self, descriptions: Sequence[str]) -> list[str | None]:
        """The category of each description (None: no rule and no earlier record)."""
        known = self._known
        unseen = [d for d in dict.fromkeys(descriptions) if d not in known]
        lookup: list[str] = []
        for description in unseen:
            category = self.rule_category(description)
            if category is not None:
                known[description] = category
            elif _may_be_notes(description):
                lookup.append(description)
            else:
                known[description] = None
        for start in range(0, len(lookup), LOOKUP_CHUNK):
            chunk = lookup[start : start + LOOKUP_CHUNK]
            found = await self._last_categories(chunk)
            for description in chunk:
                known[description] = found.get(description)
        return [known[d] for d in descriptions]

    async def _last_categories(self, descriptions: list[str]) -> dict[str, str]:
        arrays = self.session.get_bind().dialect.name == "postgresql"
        statement = last_categories_query(self.org_id, descriptions, arrays=arrays)
        rows = await self.session.execute(statement)
        return dict(rows.all())


def _one_of(
    expression: ColumnElement[str] | InstrumentedAttribute[str | None],
    values: list[str],
    *,
    arrays: bool,
) -> ColumnElement[bool]:
    """``expression IN (values)``; on PostgreSQL ``= ANY(array)``, one bound parameter instead
    of a thousand (rendering those took a third of the lookup's time)."""
    if arrays:
        return expression == any_(bindparam(None, values, type_=postgresql.ARRAY(Text)))
    return expression.in_(values)


def last_categories_query(
    org_id: uuid.UUID, descriptions: Sequence[str], *, arrays: bool = False
) -> Select[str, str]:
    """One query: per description, the category of the org's most recent live record (latest
    date, then latest created) whose notes equal it. ``ix_records_notes`` finds the
    candidates by the start of their notes; the full notes are compared after."""
    keys = sorted({d[:NOTES_KEY_LENGTH] for d in descriptions})
    ranked = (
        select(
            Record.notes.label("notes"),
            Category.name.label("category"),
            func.row_number()
            .over(
                partition_by=Record.notes,
                order_by=(Record.date.desc(), Record.created_at.desc(), Record.id.desc()),
            )
            .label("rank"),
        )
        .join(Category, Category.id == Record.category_id)
        .where(
            Record.org_id == org_id,
            Record.deleted_at.is_(None),
            Record.transfer_id.is_(None),
            Record.notes.is_not(None),
            _one_of(notes_key(Record.notes), keys, arrays=arrays),
            _one_of(Record.notes, list(descriptions), arrays=arrays),
        )
        .subquery()
    )
    return select(ranked.c.notes, ranked.c.category).where(ranked.c.rank == 1)


def _may_be_notes(description: str) -> bool:
    """Whether a record's notes could equal the description (no record holds an empty,
    over-long or control-character note; PostgreSQL refuses NUL even to compare with)."""
    return 0 < len(description) <= MAX_NOTES_CHARS and not has_control_characters(description)


def to_read(rule: CategoryRule) -> RuleRead:
    return RuleRead(
        id=rule.id,
        position=rule.position,
        field=RuleField(rule.field),
        match=RuleMatch(rule.match),
        pattern=rule.pattern,
        case_sensitive=rule.case_sensitive,
        category=rule.category,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _audited(rule: CategoryRule) -> dict[str, Any]:
    return {
        "position": rule.position,
        "field": rule.field,
        "match": rule.match,
        "pattern": rule.pattern,
        "case_sensitive": rule.case_sensitive,
        "category": rule.category,
    }


def _audit(
    session: AsyncSession,
    ctx: OrgContext,
    rule: CategoryRule,
    action: AuditAction,
    changes: dict[str, Any],
) -> None:
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=EntityType.CATEGORY_RULE,
        entity_id=rule.id,
        changes=changes,
    )


async def list_rules(session: AsyncSession, org_id: uuid.UUID) -> list[RuleRead]:
    """Every rule of the org in position order (at most ``MAX_RULES``)."""
    rules = await session.scalars(
        select(CategoryRule)
        .where(CategoryRule.org_id == org_id)
        .order_by(CategoryRule.position, CategoryRule.created_at, CategoryRule.id)
    )
    return [to_read(rule) for rule in rules]


async def _lock_rules(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Lock the org's row (rule writes of one org queue behind each other, so positions stay
    1..n) and count its rules."""
    await session.execute(select(Org.id).where(Org.id == org_id).with_for_update())
    count = await session.scalar(
        select(func.count()).select_from(CategoryRule).where(CategoryRule.org_id == org_id)
    )
    return int(count or 0)


async def _rule(session: AsyncSession, org_id: uuid.UUID, rule_id: uuid.UUID) -> CategoryRule:
    rule = await session.scalar(
        select(CategoryRule)
        .where(CategoryRule.org_id == org_id, CategoryRule.id == rule_id)
        .execution_options(populate_existing=True)
    )
    if rule is None:
        raise NotFound(RULE_NOT_FOUND)
    return rule


async def _shift(
    session: AsyncSession, org_id: uuid.UUID, by: int, low: int, high: int | None = None
) -> None:
    """Move the rules at positions ``low``..``high`` (inclusive; None: to the end) by ``by``."""
    statement = update(CategoryRule).where(
        CategoryRule.org_id == org_id, CategoryRule.position >= low
    )
    if high is not None:
        statement = statement.where(CategoryRule.position <= high)
    await session.execute(
        statement.values(position=CategoryRule.position + by),
        execution_options={"synchronize_session": False},
    )


async def create_rule(session: AsyncSession, ctx: OrgContext, data: RuleCreate) -> RuleRead:
    count = await _lock_rules(session, ctx.org_id)
    if count >= MAX_RULES:
        raise Conflict(f"an organization keeps at most {MAX_RULES} category rules")
    position = min(data.position or count + 1, count + 1)
    if position <= count:
        await _shift(session, ctx.org_id, +1, position)
    rule = CategoryRule(
        org_id=ctx.org_id,
        position=position,
        field=data.field.value,
        match=data.match.value,
        pattern=data.pattern,
        case_sensitive=data.case_sensitive,
        category=data.category,
    )
    session.add(rule)
    await session.flush()
    _audit(
        session,
        ctx,
        rule,
        AuditAction.CATEGORY_RULE_CREATED,
        {k: [None, v] for k, v in _audited(rule).items()},
    )
    return to_read(rule)


async def get_rule(session: AsyncSession, org_id: uuid.UUID, rule_id: uuid.UUID) -> RuleRead:
    return to_read(await _rule(session, org_id, rule_id))


async def update_rule(
    session: AsyncSession, ctx: OrgContext, rule_id: uuid.UUID, data: RuleUpdate
) -> RuleRead:
    """Change the fields sent; a new position moves the rules between closer by one."""
    count = await _lock_rules(session, ctx.org_id)
    rule = await _rule(session, ctx.org_id, rule_id)
    before = _audited(rule)
    if data.position is not None:
        old, new = rule.position, min(data.position, count)
        if new < old:
            await _shift(session, ctx.org_id, +1, new, old - 1)
        elif new > old:
            await _shift(session, ctx.org_id, -1, old + 1, new)
        rule.position = new
    if data.field is not None:
        rule.field = data.field.value
    if data.match is not None:
        rule.match = data.match.value
    if data.pattern is not None:
        rule.pattern = data.pattern
    if data.case_sensitive is not None:
        rule.case_sensitive = data.case_sensitive
    if data.category is not None:
        rule.category = data.category
    after = _audited(rule)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        await session.flush()
        _audit(session, ctx, rule, AuditAction.CATEGORY_RULE_UPDATED, changes)
    return to_read(rule)


async def delete_rule(session: AsyncSession, ctx: OrgContext, rule_id: uuid.UUID) -> None:
    await _lock_rules(session, ctx.org_id)
    rule = await _rule(session, ctx.org_id, rule_id)
    _audit(
        session,
        ctx,
        rule,
        AuditAction.CATEGORY_RULE_DELETED,
        {k: [v, None] for k, v in _audited(rule).items()},
    )
    position = rule.position
    await session.delete(rule)
    await session.flush()
    await _shift(session, ctx.org_id, -1, position + 1)
