"""Array-level VJPs of the reshaping ops: the gradient reshaped back to the input's shape in
numpy, where the reference records a reshape op (a batch-1 step's cost)."""
from .base import register
from ..ops import movement


def reshape_back_vjp(ctx, grad_out):
    return (grad_out.reshape(ctx.inputs[0].data.shape),)


register(movement.reshape_op, vjp=reshape_back_vjp)
register(movement.flatten_op, vjp=reshape_back_vjp)
