from django.urls import path

from tokens.api import views

app_name = "api"

urlpatterns = [
    path("auth/validate", views.ValidateView.as_view(), name="validate"),
    path("auth/push", views.PushView.as_view(), name="push"),
    path("device/answer", views.DeviceAnswerView.as_view(), name="device-answer"),
    path(
        "device/challenges",
        views.DeviceChallengesView.as_view(),
        name="device-challenges",
    ),
    path("device/activate", views.ActivateView.as_view(), name="device-activate"),
    path("device/confirm", views.ConfirmView.as_view(), name="device-confirm"),
    path("device/remove", views.DeviceRemoveView.as_view(), name="device-remove"),
    path("device/webpush", views.DeviceWebPushView.as_view(), name="device-webpush"),
]
