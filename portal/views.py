from django.shortcuts import render


def home(request):
    return render(request, "portal/home.html")


def enroll(request, code):
    return render(request, "portal/home.html")
