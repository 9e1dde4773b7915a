"""Create the example catalog and a staff user. Running it again changes nothing."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify

from shop.models import Category, Discount, Product

# (slug, name, parent slug)
CATEGORIES = [
    ("winter-jackets", "Winter Jackets", None),
    ("parkas", "Parkas", "winter-jackets"),
    ("puffer-jackets", "Puffer Jackets", "winter-jackets"),
    ("knitwear", "Knitwear", None),
    ("accessories", "Accessories", None),
    ("mugs", "Mugs", None),
]

# (sku, name, category slug, price in EUR, stock, featured)
PRODUCTS = [
    ("PAR-101", "Nordkap Parka", "parkas", "289.00", 12, True),
    ("PAR-102", "Harbour Parka", "parkas", "239.00", 8, False),
    ("PAR-103", "Fjell Expedition Parka", "parkas", "349.00", 4, True),
    ("PAR-104", "City Parka, olive", "parkas", "199.00", 0, False),
    ("PUF-201", "Lofoten Down Jacket", "puffer-jackets", "179.00", 15, True),
    ("PUF-202", "Light Puffer Vest", "puffer-jackets", "89.00", 20, False),
    ("WJK-301", "Wool Coat, charcoal", "winter-jackets", "259.00", 6, False),
    ("KNT-401", "Merino Crew Jumper", "knitwear", "79.00", 30, True),
    ("KNT-402", "Cable-Knit Cardigan", "knitwear", "95.00", 18, False),
    ("KNT-403", "Ribbed Wool Beanie", "knitwear", "24.90", 60, False),
    ("ACC-501", "Lambswool Scarf", "accessories", "39.00", 40, False),
    ("ACC-502", "Leather Gloves", "accessories", "49.00", 25, True),
    ("ACC-503", "Wool Socks, 3 pairs", "accessories", "19.90", 80, False),
    ("ACC-504", "Insulated Bottle", "accessories", "29.00", 35, False),
    ("MUG-042", "Stoneware Mug, midnight blue", "mugs", "14.90", 100, True),
    ("MUG-043", "Stoneware Mug, sand", "mugs", "14.90", 75, False),
    ("MUG-050", "Enamel Camping Mug", "mugs", "12.50", 50, False),
    ("MUG-060", "Double-Wall Glass Mug", "mugs", "18.90", 40, False),
    ("MUG-070", "Travel Mug with Lid", "mugs", "22.00", 45, True),
    ("MUG-080", "Espresso Cups, set of 2", "mugs", "16.50", 30, False),
]

# (code, kind, value, single use)
DISCOUNTS = [
    ("WELCOME10", Discount.Kind.PERCENT, "10.00", False),
    ("FREESHIP", Discount.Kind.FREE_SHIPPING, "0.00", False),
]


class Command(BaseCommand):
    help = (
        "Create the example catalog (6 categories, 20 products, 2 discount codes) "
        "and a staff user. Existing rows are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--staff-username",
            default=os.environ.get("SHOP_STAFF_USERNAME", "staff"),
            help="Username of the staff user (env SHOP_STAFF_USERNAME, default staff).",
        )
        parser.add_argument(
            "--staff-email",
            default=os.environ.get("SHOP_STAFF_EMAIL", "staff@example.com"),
            help="Email of the staff user (env SHOP_STAFF_EMAIL).",
        )
        parser.add_argument(
            "--staff-password",
            default=os.environ.get("SHOP_STAFF_PASSWORD", ""),
            help=(
                "Password of the staff user (env SHOP_STAFF_PASSWORD). Without it a "
                "new staff user gets a random password, and an existing one keeps "
                "theirs."
            ),
        )
        parser.add_argument(
            "--no-staff", action="store_true", help="Do not create a staff user."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            categories, new_categories = self._seed_categories()
            new_products = self._seed_products(categories)
            new_discounts = self._seed_discounts()
        self.stdout.write(
            f"Catalog: {new_categories} new categories, {new_products} new products, "
            f"{new_discounts} new discount codes "
            f"({Product.objects.count()} products in total)."
        )

        if not options["no_staff"]:
            self._seed_staff(
                options["staff_username"].strip(),
                options["staff_email"].strip(),
                options["staff_password"],
            )

    def _seed_categories(self) -> tuple[dict[str, Category], int]:
        categories: dict[str, Category] = {}
        created_count = 0
        for slug, name, parent_slug in CATEGORIES:
            category, created = Category.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "parent": categories[parent_slug] if parent_slug else None,
                },
            )
            categories[slug] = category
            created_count += created
        return categories, created_count

    def _seed_products(self, categories: dict[str, Category]) -> int:
        created_count = 0
        for sku, name, category_slug, price, stock, featured in PRODUCTS:
            _product, created = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "slug": f"{sku.lower()}-{slugify(name)}",
                    "category": categories[category_slug],
                    "price": Decimal(price),
                    "currency": "EUR",
                    "stock": stock,
                    "is_featured": featured,
                    "description": f"{name}. Part of the example catalog.",
                },
            )
            created_count += created
        return created_count

    def _seed_discounts(self) -> int:
        created_count = 0
        for code, kind, value, single_use in DISCOUNTS:
            _discount, created = Discount.objects.get_or_create(
                code=code,
                defaults={
                    "kind": kind,
                    "value": Decimal(value),
                    "single_use": single_use,
                },
            )
            created_count += created
        return created_count

    def _seed_staff(self, username: str, email: str, password: str) -> None:
        if not username:
            raise CommandError("--staff-username is empty. Give a username.")

        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = password or secrets.token_urlsafe(12)
            User.objects.create_superuser(
                username=username, email=email, password=password
            )
            shown_password = password
        elif password:
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["password", "is_staff", "is_superuser"])
            shown_password = password
        else:
            shown_password = "(unchanged)"

        self.stdout.write(
            self.style.SUCCESS(
                f"Staff login: username {username}, password {shown_password} "
                "(log in at /admin/ or /account/login/)"
            )
        )
