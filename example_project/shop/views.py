"""Pages of the shop: catalog, cart, checkout, orders and the customer account."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop import tracking
from shop.cart import CartError, add_product, get_cart, get_or_create_cart, set_quantity
from shop.consent import record_email_opt_in
from shop.forms import (
    AddToCartForm,
    CheckoutForm,
    QuantityForm,
    SignupForm,
    create_customer,
)
from shop.models import Cart, CartLine, Category, Order, OrderStatusError, Product
from shop.offers import offer_code_errors
from shop.services import CheckoutError, compute_totals, place_order

# Order numbers this session has placed, so a guest can see their confirmation page.
SESSION_ORDER_NUMBERS = "shop_order_numbers"
VIP_PRODUCT_COUNT = 8
# The shop's own login page, so that it works whatever settings.LOGIN_URL says.
LOGIN_URL = "shop:login"


def home(request: HttpRequest) -> HttpResponse:
    featured = Product.objects.active().filter(is_featured=True)[:8]
    return render(request, "shop/home.html", {"featured_products": featured})


def category_list(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.filter(parent__isnull=True).prefetch_related(
        "children"
    )
    return render(request, "shop/category_list.html", {"categories": categories})


def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    products = (
        Product.objects.active()
        .filter(category__in=category.descendant_ids())
        .select_related("category")
    )
    context = {
        "category": category,
        "subcategories": category.children.all(),
        "products": products,
    }
    return render(request, "shop/category_detail.html", context)


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(
        Product.objects.active().select_related("category"), slug=slug
    )
    tracking.track_product_view(request, product)
    context = {"product": product, "form": AddToCartForm()}
    return render(request, "shop/product_detail.html", context)


def vip(request: HttpRequest) -> HttpResponse:
    products = Product.objects.active().order_by("-price")[:VIP_PRODUCT_COUNT]
    return render(request, "shop/vip.html", {"products": products})


def cart_detail(request: HttpRequest) -> HttpResponse:
    cart = get_cart(request)
    lines = cart.lines.select_related("product") if cart is not None else []
    totals = compute_totals(cart.total) if cart is not None else None
    context = {"cart": cart, "lines": lines, "totals": totals}
    return render(request, "shop/cart.html", context)


@require_POST
def cart_add(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product.objects.active(), pk=product_id)
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a quantity from 1 to 999."))
        return redirect(product)

    cart = get_or_create_cart(request)
    try:
        add_product(cart, product, form.cleaned_data["quantity"])
    except CartError as error:
        messages.error(request, str(error))
        return redirect(product)
    messages.success(
        request, _("Added %(name)s to your cart.") % {"name": product.name}
    )
    return redirect("shop:cart")


@require_POST
def cart_update(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _own_cart_line(request, line_id)
    form = QuantityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a quantity from 0 to 999."))
        return redirect("shop:cart")
    try:
        set_quantity(line.cart, line, form.cleaned_data["quantity"])
    except CartError as error:
        messages.error(request, str(error))
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _own_cart_line(request, line_id)
    name = line.product.name
    set_quantity(line.cart, line, 0)
    messages.success(request, _("Removed %(name)s from your cart.") % {"name": name})
    return redirect("shop:cart")


def _own_cart_line(request: HttpRequest, line_id: int) -> CartLine:
    cart = get_cart(request)
    if cart is None:
        raise PermissionDenied(_("You have no open cart."))
    return get_object_or_404(
        CartLine.objects.select_related("product", "cart"), pk=line_id, cart=cart
    )


def checkout(request: HttpRequest) -> HttpResponse:
    cart = get_cart(request)
    if cart is None or not cart.lines.exists():
        messages.info(request, _("Your cart is empty. Add a product first."))
        return redirect("shop:cart")

    data = request.POST if request.method == "POST" else None
    form = CheckoutForm(data, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            order = _place_order_from_form(request, cart, form)
            if order is not None:
                return redirect(order)
        _remember_cart_email(cart, form)

    context = {
        "form": form,
        "cart": cart,
        "lines": cart.lines.select_related("product"),
        "totals": compute_totals(cart.total),
    }
    return render(request, "shop/checkout.html", context)


def _place_order_from_form(
    request: HttpRequest, cart: Cart, form: CheckoutForm
) -> Order | None:
    """Create the account (if requested) and the order, or add errors to the form."""
    data = form.cleaned_data
    new_user = None
    try:
        with transaction.atomic():
            if data.get("create_account"):
                new_user = create_customer(data["email"], data["password"])
            user = new_user or (request.user if request.user.is_authenticated else None)
            order = place_order(
                cart,
                email=data["email"],
                phone=data["phone"],
                user=user,
                discount_code=data["discount_code"],
            )
    except CheckoutError as error:
        form.add_error(error.field, error.message)
        return None
    except offer_code_errors() as error:
        form.add_error("discount_code", error.message)
        return None

    if data.get("marketing_email"):
        record_email_opt_in(request, data["email"], source="checkout", user=user)
    # Logged in after the commit: a rolled-back checkout must leave the visitor's
    # session, and so their cart, as it was.
    if new_user is not None:
        login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
    numbers = request.session.get(SESSION_ORDER_NUMBERS, [])
    request.session[SESSION_ORDER_NUMBERS] = [*numbers, order.number][-20:]
    messages.success(request, _("Thank you! Your order has been placed."))
    return order


def _remember_cart_email(cart: Cart, form: CheckoutForm) -> None:
    # Keep an email typed into a failed checkout, so that the cart has an owner.
    email = form.cleaned_data.get("email")
    if email and email != cart.email:
        cart.email = email
        cart.save(update_fields=["email", "updated_at"])


def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("lines"), number=number)
    if not _may_view_order(request, order):
        raise PermissionDenied(_("This order belongs to another customer."))
    return render(request, "shop/order_detail.html", {"order": order})


def _may_view_order(request: HttpRequest, order: Order) -> bool:
    user = request.user
    if user.is_authenticated and (user.is_staff or order.user_id == user.pk):
        return True
    return order.number in request.session.get(SESSION_ORDER_NUMBERS, [])


@require_POST
def order_mark_paid(request: HttpRequest, number: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
    if not request.user.is_staff:
        raise PermissionDenied(_("Only staff can mark orders paid."))

    with transaction.atomic():
        order = get_object_or_404(Order.objects.select_for_update(), number=number)
        try:
            changed = order.mark_paid()
        except OrderStatusError as error:
            messages.error(request, str(error))
            return redirect(order)
    if changed:
        messages.success(
            request, _("Order %(number)s is paid.") % {"number": order.number}
        )
    else:
        messages.info(
            request, _("Order %(number)s was already paid.") % {"number": order.number}
        )
    return redirect(order)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("shop:account")

    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if form.cleaned_data.get("marketing_email"):
            record_email_opt_in(request, user.email, source="signup", user=user)
        messages.success(request, _("Welcome! Your account has been created."))
        next_url = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={request.get_host()},
            require_https=request.is_secure(),
        ):
            return redirect(next_url)
        return redirect("shop:account")
    context = {"form": form, "next": request.GET.get("next", "")}
    return render(request, "shop/signup.html", context)


@login_required(login_url=LOGIN_URL)
def account(request: HttpRequest) -> HttpResponse:
    orders = request.user.orders.prefetch_related(
        Prefetch("lines", to_attr="line_list")
    )
    return render(request, "shop/account.html", {"orders": orders})
