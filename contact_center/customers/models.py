"""Customer tables: customers (by account number), their contract phones, their e-mail addresses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.storage.base import Base, UtcDateTime, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    has_contract: Mapped[bool] = mapped_column(Boolean, default=False)
    debt: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    debt_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # the customer's own zone when it differs from the service's (calls respect local time)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    # in the file's order: the first is the one a campaign dials first
    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CustomerPhone.id",
    )
    emails: Mapped[list[CustomerEmail]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )


class CustomerPhone(Base):
    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    # E.164 with '+', e.g. +79131234567; indexed for caller-ID lookup
    number: Mapped[str] = mapped_column(String(16), index=True)
    from_contract: Mapped[bool] = mapped_column(Boolean, default=True)

    customer: Mapped[Customer] = relationship(back_populates="phones")


class CustomerEmail(Base):
    __tablename__ = "customer_emails"
    __table_args__ = (UniqueConstraint("customer_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(254), index=True)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    customer: Mapped[Customer] = relationship(back_populates="emails")
