"""The neural fusion heads' glue to Hugging Face accelerate.

A head given ``accelerator=`` trains a skorch net through skorch's
``AccelerateMixin`` (data-parallel under ``accelerate launch``, mixed precision),
then keeps a plain ``NeuralNet`` with the trained weights, so that the fitted head
pickles, loads and predicts without accelerate. Everything here exists so that
every process of a multi-GPU run splits, stops early and restores alike.
"""

from __future__ import annotations

from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.hf import AccelerateMixin

__all__ = [
    "AcceleratedNet",
    "UnwrappedEarlyStopping",
    "build_net",
    "device_name",
    "plain_net",
    "shared_seed",
]


class UnwrappedEarlyStopping(EarlyStopping):
    """EarlyStopping whose best weights load into the unwrapped module.

    Under ``accelerate launch`` on several GPUs the module trains wrapped in
    DistributedDataParallel (state-dict keys ``module.*``); skorch's accelerate
    mixin unwraps it at the end of training, before this callback restores the
    best epoch's weights.
    """

    def on_train_end(self, net, **kwargs):
        weights = getattr(self, "best_model_weights_", None)
        if weights:
            own = net.module_.state_dict()
            prefix = "module."
            if all(k.startswith(prefix) for k in weights) and not any(
                k.startswith(prefix) for k in own
            ):
                self.best_model_weights_ = {
                    k[len(prefix) :]: v for k, v in weights.items()
                }
        super().on_train_end(net, **kwargs)


def device_name(device: Any) -> str:
    """ "cpu" for any CPU device (accelerate may say "cpu:0", which torch.load
    cannot map to), else the device as torch writes it ("cuda:1")."""
    device = torch.device(device)
    return "cpu" if device.type == "cpu" else str(device)


def shared_seed(accelerator: Any, seed: int) -> int:
    """``seed``, made the main process's in every process of a multi-process run.

    Every process must split, initialise and shuffle alike (each trains on its
    shard of the same data): the main process's seed wins.
    """
    if accelerator is None or accelerator.num_processes <= 1:
        return seed
    from accelerate.utils import broadcast_object_list

    return int(broadcast_object_list([seed], from_process=0)[0])


class AcceleratedNet(AccelerateMixin, NeuralNet):
    """skorch's NeuralNet trained through an ``accelerate.Accelerator``."""

    def _initialize_accelerator(self):
        # skorch prepares the criterion too; DistributedDataParallel (several
        # processes) refuses a module without trainable parameters, like our loss.
        criteria = self._criteria
        self._criteria = [
            name
            for name in criteria
            if any(p.requires_grad for p in getattr(self, name + "_").parameters())
        ]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    # Early stopping must decide alike in every process: a process that stops
    # while another trains on waits forever in the other's gradient all-reduce,
    # and processes that restore different "best" epochs end with different
    # models. skorch's accelerate mixin gives each process a shard of the
    # validation set, so each saw its own validation loss. Here every process
    # validates on the whole (small) held-out set, and the loss is averaged
    # across processes, so every process records the very same number.
    def get_iterator(self, dataset, training=False):
        if training:
            return super().get_iterator(dataset, training=True)
        from accelerate.data_loader import prepare_data_loader

        loader = NeuralNet.get_iterator(self, dataset, training=False)
        return prepare_data_loader(
            loader,
            device=self.accelerator.device,
            num_processes=1,
            process_index=0,
            put_on_device=True,
        )

    def validation_step(self, batch, **fit_params):
        step = super().validation_step(batch, **fit_params)
        step["loss"] = self.accelerator.reduce(step["loss"], reduction="mean")
        return step


def build_net(
    net_params: dict, *, accelerator: Any, device: str, verbose: int
) -> NeuralNet:
    """A plain skorch net on ``device``, or one trained through ``accelerator``."""
    if accelerator is None:
        return NeuralNet(**net_params, device=device)
    return AcceleratedNet(
        **net_params,
        accelerator=accelerator,
        # accelerate's print (main process only) would ignore verbose=0
        callbacks__print_log__sink=accelerator.print if verbose else print,
    )


def plain_net(trained: NeuralNet, net_params: dict, device: str) -> NeuralNet:
    """A plain NeuralNet holding the trained (unwrapped) module and its history.

    The accelerate-trained net keeps the ``Accelerator`` (process group, device,
    gradient scaler), which has no meaning in another process: the fitted head keeps
    only the trained weights, so it pickles and loads on any machine, a CPU-only
    one included, and predicts without accelerate.
    """
    module = trained.module_
    module = getattr(module, "module", module)  # a DistributedDataParallel left over
    params = {**net_params, "module": module, "criterion": trained.criterion_}
    params["callbacks"] = None
    params["train_split"] = None
    plain = NeuralNet(**params, device=device)
    plain.initialize()  # an initialised module instance is kept as it is
    plain.history = trained.history
    return plain
