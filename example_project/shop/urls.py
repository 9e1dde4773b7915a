from django.contrib.auth import views as auth_views
from django.urls import path

from shop import views
from shop.forms import LoginForm

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/", views.category_list, name="category_list"),
    path("categories/<slug:slug>/", views.category_detail, name="category_detail"),
    path("products/<slug:slug>/", views.product_detail, name="product_detail"),
    path("vip/", views.vip, name="vip"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<int:product_id>/", views.cart_add, name="cart_add"),
    path("cart/lines/<int:line_id>/update/", views.cart_update, name="cart_update"),
    path("cart/lines/<int:line_id>/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path(
        "orders/<str:number>/mark-paid/",
        views.order_mark_paid,
        name="order_mark_paid",
    ),
    path("account/", views.account, name="account"),
    path("account/signup/", views.signup, name="signup"),
    path(
        "account/login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, next_page="shop:account"
        ),
        name="login",
    ),
    path(
        "account/logout/",
        auth_views.LogoutView.as_view(next_page="shop:home"),
        name="logout",
    ),
]
