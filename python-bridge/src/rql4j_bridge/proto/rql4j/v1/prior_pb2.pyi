from . import env_pb2 as _env_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoadPriorRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class LoadPriorResponse(_message.Message):
    __slots__ = ("prior_handle", "sidecar_json")
    PRIOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_JSON_FIELD_NUMBER: _ClassVar[int]
    prior_handle: str
    sidecar_json: str
    def __init__(self, prior_handle: _Optional[str] = ..., sidecar_json: _Optional[str] = ...) -> None: ...

class PriorQuery(_message.Message):
    __slots__ = ("prior_handle", "observations", "actions", "seed", "deterministic")
    PRIOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DETERMINISTIC_FIELD_NUMBER: _ClassVar[int]
    prior_handle: str
    observations: _env_pb2.Tensor
    actions: _env_pb2.Tensor
    seed: int
    deterministic: bool
    def __init__(self, prior_handle: _Optional[str] = ..., observations: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ..., actions: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ..., seed: _Optional[int] = ..., deterministic: _Optional[bool] = ...) -> None: ...

class LogProbsAllResponse(_message.Message):
    __slots__ = ("log_probs",)
    LOG_PROBS_FIELD_NUMBER: _ClassVar[int]
    log_probs: _env_pb2.Tensor
    def __init__(self, log_probs: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ...) -> None: ...

class DistributionResponse(_message.Message):
    __slots__ = ("mean", "log_std")
    MEAN_FIELD_NUMBER: _ClassVar[int]
    LOG_STD_FIELD_NUMBER: _ClassVar[int]
    mean: _env_pb2.Tensor
    log_std: _env_pb2.Tensor
    def __init__(self, mean: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ..., log_std: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ...) -> None: ...

class LogProbResponse(_message.Message):
    __slots__ = ("log_prob",)
    LOG_PROB_FIELD_NUMBER: _ClassVar[int]
    log_prob: _env_pb2.Tensor
    def __init__(self, log_prob: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SampleResponse(_message.Message):
    __slots__ = ("actions",)
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    actions: _env_pb2.Tensor
    def __init__(self, actions: _Optional[_Union[_env_pb2.Tensor, _Mapping]] = ...) -> None: ...

class ReleasePriorRequest(_message.Message):
    __slots__ = ("prior_handle",)
    PRIOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    prior_handle: str
    def __init__(self, prior_handle: _Optional[str] = ...) -> None: ...

class ReleasePriorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
