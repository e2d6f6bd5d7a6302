def role(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"role": user.role, "can_operate": user.can_operate, "can_apply": user.can_apply}
