"""Forms of the shop: cart quantities, checkout, sign-up and login."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from shop.consent import EMAIL_OPT_IN_LABEL
from shop.offers import offer_code_error
from shop.services import find_usable_discount

User = get_user_model()

# Digits with the separators people type: spaces, dots, slashes, dashes, brackets.
PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()./-]+$")
PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15  # the E.164 maximum


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=0, max_value=999)


class AddToCartForm(forms.Form):
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=999, initial=1
    )


def email_taken(email: str) -> bool:
    """Return whether a user already has this email as email or username."""
    return (
        User.objects.filter(email__iexact=email).exists()
        or User.objects.filter(username__iexact=email).exists()
    )


def create_customer(email: str, password: str) -> AbstractBaseUser:
    """Create a customer account whose username is the lower-cased email."""
    return User.objects.create_user(
        username=email.lower(), email=email, password=password
    )


class CheckoutForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    phone = forms.CharField(
        label=_("Phone (optional)"),
        required=False,
        max_length=32,
        help_text=_("For delivery questions, for example +49 30 1234567."),
    )
    discount_code = forms.CharField(
        label=_("Discount code (optional)"), required=False, max_length=40
    )
    marketing_email = forms.BooleanField(label=EMAIL_OPT_IN_LABEL, required=False)
    create_account = forms.BooleanField(
        label=_("Create an account with this email"), required=False
    )
    password = forms.CharField(
        label=_("Password for the new account"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, user: AbstractBaseUser | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user if user is not None and user.is_authenticated else None
        if self.user is not None:
            # A logged-in customer orders under the account they have.
            del self.fields["create_account"]
            del self.fields["password"]
            self.fields["email"].initial = self.user.email

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    def clean_phone(self) -> str:
        phone = self.cleaned_data["phone"].strip()
        if not phone:
            return ""
        digits = sum(character.isdigit() for character in phone)
        if not PHONE_CHARACTERS.match(phone) or not (
            PHONE_MIN_DIGITS <= digits <= PHONE_MAX_DIGITS
        ):
            raise ValidationError(
                _(
                    "“%(phone)s” is not a phone number. Enter %(min)s to %(max)s "
                    "digits, optionally starting with + and the country code."
                ),
                code="invalid_phone",
                params={
                    "phone": phone,
                    "min": PHONE_MIN_DIGITS,
                    "max": PHONE_MAX_DIGITS,
                },
            )
        return phone

    def clean_discount_code(self) -> str:
        code = self.cleaned_data["discount_code"].strip()
        if code:
            # Validated here so the form shows the error at once. place_order()
            # validates the code again under a row lock.
            find_usable_discount(code)
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        code = cleaned.get("discount_code")
        if code:
            error = offer_code_error(
                code, email=cleaned.get("email", ""), user=self.user
            )
            if error:
                self.add_error("discount_code", error)
        if not cleaned.get("create_account"):
            return cleaned

        email = cleaned.get("email")
        password = cleaned.get("password")
        if email and email_taken(email):
            self.add_error(
                "email",
                ValidationError(
                    _(
                        "An account with this email already exists. Log in first, "
                        "or untick “create an account”."
                    ),
                    code="email_taken",
                ),
            )
        if not password:
            self.add_error(
                "password",
                ValidationError(
                    _("Choose a password to create an account."),
                    code="password_missing",
                ),
            )
        elif email:
            candidate = User(username=email.lower(), email=email)
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class SignupForm(BaseUserCreationForm):
    email = forms.EmailField(label=_("Email"))
    marketing_email = forms.BooleanField(label=EMAIL_OPT_IN_LABEL, required=False)

    class Meta(BaseUserCreationForm.Meta):
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email_taken(email):
            raise ValidationError(
                _("An account with this email already exists. Log in instead."),
                code="email_taken",
            )
        # Set before _post_clean() so that the password validators compare the
        # password with the username as well.
        self.instance.username = email.lower()
        return email

    def save(self, commit: bool = True) -> AbstractBaseUser:
        user = super().save(commit=False)
        user.username = self.cleaned_data["email"].lower()
        if commit:
            user.save()
        return user


class LoginForm(AuthenticationForm):
    """Login by username, where an email matches in any letter case."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Email or username")

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        # Customer usernames are their lower-cased email (see create_customer).
        return username.lower() if "@" in username else username
