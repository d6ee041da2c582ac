from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.home, name="login"),
    path("enroll/<str:code>/", views.enroll, name="enroll"),
]
