from django.urls import path

from pwa import views

app_name = "pwa"

urlpatterns = [
    path("", views.app, name="app"),
]
