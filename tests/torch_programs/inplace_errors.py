"""In-place operations: what works, and the misuses that must raise RuntimeError."""
import torch


def attempt(label, fn):
    try:
        fn()
        print(label, "ran")
    except RuntimeError:
        print(label, "raised RuntimeError")


t = torch.zeros(3)
t.add_(1).mul_(3)
t.sub_(torch.tensor([0.0, 1.0, 2.0]))
t.div_(2)
t += 1
t *= 2
print("in-place chain:", t.tolist())
t.zero_()
t.fill_(4.0)
t.clamp_(max=3.0)
print("zero_/fill_/clamp_:", t.tolist())
v = t.view(3, 1)
v[0, 0] = -1.0
print("view shares storage:", t.tolist())


def modify_leaf():
    a = torch.ones(2, requires_grad=True)
    a.add_(1)


attempt("in-place on a leaf that requires grad:", modify_leaf)


def modify_leaf_under_no_grad():
    a = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        a.add_(1)
    print("  value", a.tolist(), "still requires grad", a.requires_grad)


attempt("in-place on a leaf under no_grad:", modify_leaf_under_no_grad)


def modify_saved_then_backward():
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 2
    c = b * b                # b is saved for the backward of this product
    b.add_(1)
    c.sum().backward()


attempt("backward after modifying a saved tensor:", modify_saved_then_backward)


def modify_sigmoid_output_then_backward():
    a = torch.tensor([0.5, -0.5], requires_grad=True)
    s = a.sigmoid()          # sigmoid saves its output
    s.mul_(2)
    s.sum().backward()


attempt("backward after modifying a saved output:", modify_sigmoid_output_then_backward)


def modify_unsaved_then_backward():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = a + 1                # add saves nothing
    b.mul_(3)
    b.sum().backward()
    print("  grad", a.grad.tolist())


attempt("backward after modifying an unsaved intermediate:", modify_unsaved_then_backward)


def backward_twice():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (a * a).sum()
    loss.backward()
    loss.backward()


attempt("second backward without retain_graph:", backward_twice)


def backward_non_scalar():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    (a * 2).backward()


attempt("backward of a non-scalar without a gradient:", backward_non_scalar)


def backward_no_grad():
    a = torch.tensor([1.0, 2.0])
    (a * 2).sum().backward()


attempt("backward of a tensor that needs no grad:", backward_no_grad)


def numpy_of_requires_grad():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    a.numpy()


attempt("numpy() of a tensor that requires grad:", numpy_of_requires_grad)
a = torch.tensor([1.0, 2.0], requires_grad=True)
print("detach().numpy() works:", a.detach().numpy().tolist())
