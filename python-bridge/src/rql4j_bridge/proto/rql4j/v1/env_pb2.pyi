from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    FLOAT64: _ClassVar[DType]
    INT8: _ClassVar[DType]
    INT16: _ClassVar[DType]
    INT32: _ClassVar[DType]
    INT64: _ClassVar[DType]
    UINT8: _ClassVar[DType]
    BOOL: _ClassVar[DType]

class AutoresetMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTORESET_MODE_UNSPECIFIED: _ClassVar[AutoresetMode]
    SAME_STEP: _ClassVar[AutoresetMode]
    NEXT_STEP: _ClassVar[AutoresetMode]
    DISABLED: _ClassVar[AutoresetMode]

class RewardVariant(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REWARD_VARIANT_UNSPECIFIED: _ClassVar[RewardVariant]
    REWARD_BASIC: _ClassVar[RewardVariant]
    REWARD_ADDON: _ClassVar[RewardVariant]
    REWARD_TOTAL: _ClassVar[RewardVariant]
DTYPE_UNSPECIFIED: DType
FLOAT32: DType
FLOAT64: DType
INT8: DType
INT16: DType
INT32: DType
INT64: DType
UINT8: DType
BOOL: DType
AUTORESET_MODE_UNSPECIFIED: AutoresetMode
SAME_STEP: AutoresetMode
NEXT_STEP: AutoresetMode
DISABLED: AutoresetMode
REWARD_VARIANT_UNSPECIFIED: RewardVariant
REWARD_BASIC: RewardVariant
REWARD_ADDON: RewardVariant
REWARD_TOTAL: RewardVariant

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("tensor", "dict", "tuple")
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    DICT_FIELD_NUMBER: _ClassVar[int]
    TUPLE_FIELD_NUMBER: _ClassVar[int]
    tensor: Tensor
    dict: DictValue
    tuple: TupleValue
    def __init__(self, tensor: _Optional[_Union[Tensor, _Mapping]] = ..., dict: _Optional[_Union[DictValue, _Mapping]] = ..., tuple: _Optional[_Union[TupleValue, _Mapping]] = ...) -> None: ...

class DictValue(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[NamedValue]
    def __init__(self, entries: _Optional[_Iterable[_Union[NamedValue, _Mapping]]] = ...) -> None: ...

class NamedValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: Value
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class TupleValue(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, items: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Space(_message.Message):
    __slots__ = ("discrete", "box", "multi_discrete", "multi_binary", "dict", "tuple")
    DISCRETE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    MULTI_DISCRETE_FIELD_NUMBER: _ClassVar[int]
    MULTI_BINARY_FIELD_NUMBER: _ClassVar[int]
    DICT_FIELD_NUMBER: _ClassVar[int]
    TUPLE_FIELD_NUMBER: _ClassVar[int]
    discrete: DiscreteSpace
    box: BoxSpace
    multi_discrete: MultiDiscreteSpace
    multi_binary: MultiBinarySpace
    dict: DictSpace
    tuple: TupleSpace
    def __init__(self, discrete: _Optional[_Union[DiscreteSpace, _Mapping]] = ..., box: _Optional[_Union[BoxSpace, _Mapping]] = ..., multi_discrete: _Optional[_Union[MultiDiscreteSpace, _Mapping]] = ..., multi_binary: _Optional[_Union[MultiBinarySpace, _Mapping]] = ..., dict: _Optional[_Union[DictSpace, _Mapping]] = ..., tuple: _Optional[_Union[TupleSpace, _Mapping]] = ...) -> None: ...

class DiscreteSpace(_message.Message):
    __slots__ = ("n", "start")
    N_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    n: int
    start: int
    def __init__(self, n: _Optional[int] = ..., start: _Optional[int] = ...) -> None: ...

class BoxSpace(_message.Message):
    __slots__ = ("shape", "dtype", "low", "high")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: DType
    low: Tensor
    high: Tensor
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[_Union[DType, str]] = ..., low: _Optional[_Union[Tensor, _Mapping]] = ..., high: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class MultiDiscreteSpace(_message.Message):
    __slots__ = ("nvec", "start", "dtype")
    NVEC_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    nvec: Tensor
    start: Tensor
    dtype: DType
    def __init__(self, nvec: _Optional[_Union[Tensor, _Mapping]] = ..., start: _Optional[_Union[Tensor, _Mapping]] = ..., dtype: _Optional[_Union[DType, str]] = ...) -> None: ...

class MultiBinarySpace(_message.Message):
    __slots__ = ("shape",)
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, shape: _Optional[_Iterable[int]] = ...) -> None: ...

class DictSpace(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[NamedSpace]
    def __init__(self, entries: _Optional[_Iterable[_Union[NamedSpace, _Mapping]]] = ...) -> None: ...

class NamedSpace(_message.Message):
    __slots__ = ("key", "space")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    key: str
    space: Space
    def __init__(self, key: _Optional[str] = ..., space: _Optional[_Union[Space, _Mapping]] = ...) -> None: ...

class TupleSpace(_message.Message):
    __slots__ = ("spaces",)
    SPACES_FIELD_NUMBER: _ClassVar[int]
    spaces: _containers.RepeatedCompositeFieldContainer[Space]
    def __init__(self, spaces: _Optional[_Iterable[_Union[Space, _Mapping]]] = ...) -> None: ...

class MakeRequest(_message.Message):
    __slots__ = ("env_id", "kwargs_json", "num_envs", "autoreset_mode", "max_episode_steps", "addon_reward", "reward_variant", "workers")
    ENV_ID_FIELD_NUMBER: _ClassVar[int]
    KWARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    NUM_ENVS_FIELD_NUMBER: _ClassVar[int]
    AUTORESET_MODE_FIELD_NUMBER: _ClassVar[int]
    MAX_EPISODE_STEPS_FIELD_NUMBER: _ClassVar[int]
    ADDON_REWARD_FIELD_NUMBER: _ClassVar[int]
    REWARD_VARIANT_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    env_id: str
    kwargs_json: str
    num_envs: int
    autoreset_mode: AutoresetMode
    max_episode_steps: int
    addon_reward: str
    reward_variant: RewardVariant
    workers: int
    def __init__(self, env_id: _Optional[str] = ..., kwargs_json: _Optional[str] = ..., num_envs: _Optional[int] = ..., autoreset_mode: _Optional[_Union[AutoresetMode, str]] = ..., max_episode_steps: _Optional[int] = ..., addon_reward: _Optional[str] = ..., reward_variant: _Optional[_Union[RewardVariant, str]] = ..., workers: _Optional[int] = ...) -> None: ...

class MakeResponse(_message.Message):
    __slots__ = ("env_handle", "num_envs", "autoreset_mode", "observation_space", "action_space", "spec_json")
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    NUM_ENVS_FIELD_NUMBER: _ClassVar[int]
    AUTORESET_MODE_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_SPACE_FIELD_NUMBER: _ClassVar[int]
    ACTION_SPACE_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    num_envs: int
    autoreset_mode: AutoresetMode
    observation_space: Space
    action_space: Space
    spec_json: str
    def __init__(self, env_handle: _Optional[str] = ..., num_envs: _Optional[int] = ..., autoreset_mode: _Optional[_Union[AutoresetMode, str]] = ..., observation_space: _Optional[_Union[Space, _Mapping]] = ..., action_space: _Optional[_Union[Space, _Mapping]] = ..., spec_json: _Optional[str] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ("env_handle", "seeds", "options_json", "reset_mask")
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    RESET_MASK_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    seeds: _containers.RepeatedScalarFieldContainer[int]
    options_json: str
    reset_mask: Tensor
    def __init__(self, env_handle: _Optional[str] = ..., seeds: _Optional[_Iterable[int]] = ..., options_json: _Optional[str] = ..., reset_mask: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ("observation", "info")
    class InfoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InfoColumn
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InfoColumn, _Mapping]] = ...) -> None: ...
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    observation: Value
    info: _containers.MessageMap[str, InfoColumn]
    def __init__(self, observation: _Optional[_Union[Value, _Mapping]] = ..., info: _Optional[_Mapping[str, InfoColumn]] = ...) -> None: ...

class StepRequest(_message.Message):
    __slots__ = ("env_handle", "action")
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    action: Value
    def __init__(self, env_handle: _Optional[str] = ..., action: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class StepResponse(_message.Message):
    __slots__ = ("observation", "reward", "terminated", "truncated", "info", "final_observation")
    class InfoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InfoColumn
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InfoColumn, _Mapping]] = ...) -> None: ...
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    FINAL_OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    observation: Value
    reward: Tensor
    terminated: Tensor
    truncated: Tensor
    info: _containers.MessageMap[str, InfoColumn]
    final_observation: Value
    def __init__(self, observation: _Optional[_Union[Value, _Mapping]] = ..., reward: _Optional[_Union[Tensor, _Mapping]] = ..., terminated: _Optional[_Union[Tensor, _Mapping]] = ..., truncated: _Optional[_Union[Tensor, _Mapping]] = ..., info: _Optional[_Mapping[str, InfoColumn]] = ..., final_observation: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class InfoColumn(_message.Message):
    __slots__ = ("values", "present")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    values: Tensor
    present: Tensor
    def __init__(self, values: _Optional[_Union[Tensor, _Mapping]] = ..., present: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class OpenStepSocketRequest(_message.Message):
    __slots__ = ("env_handle",)
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    def __init__(self, env_handle: _Optional[str] = ...) -> None: ...

class OpenStepSocketResponse(_message.Message):
    __slots__ = ("host", "port", "token", "accept_timeout_s")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    host: str
    port: int
    token: bytes
    accept_timeout_s: int
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., token: _Optional[bytes] = ..., accept_timeout_s: _Optional[int] = ...) -> None: ...

class StepSocketReply(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: StepResponse
    error: StepSocketError
    def __init__(self, response: _Optional[_Union[StepResponse, _Mapping]] = ..., error: _Optional[_Union[StepSocketError, _Mapping]] = ...) -> None: ...

class StepSocketError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class CloseRequest(_message.Message):
    __slots__ = ("env_handle",)
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    def __init__(self, env_handle: _Optional[str] = ...) -> None: ...

class CloseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("env_handle", "index")
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    index: int
    def __init__(self, env_handle: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("snapshot_handle", "open_snapshots", "max_snapshots")
    SNAPSHOT_HANDLE_FIELD_NUMBER: _ClassVar[int]
    OPEN_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshot_handle: str
    open_snapshots: int
    max_snapshots: int
    def __init__(self, snapshot_handle: _Optional[str] = ..., open_snapshots: _Optional[int] = ..., max_snapshots: _Optional[int] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("env_handle", "index", "snapshot_handle")
    ENV_HANDLE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_HANDLE_FIELD_NUMBER: _ClassVar[int]
    env_handle: str
    index: int
    snapshot_handle: str
    def __init__(self, env_handle: _Optional[str] = ..., index: _Optional[int] = ..., snapshot_handle: _Optional[str] = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseSnapshotsRequest(_message.Message):
    __slots__ = ("snapshot_handles",)
    SNAPSHOT_HANDLES_FIELD_NUMBER: _ClassVar[int]
    snapshot_handles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, snapshot_handles: _Optional[_Iterable[str]] = ...) -> None: ...

class ReleaseSnapshotsResponse(_message.Message):
    __slots__ = ("released", "open_snapshots")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    OPEN_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    released: int
    open_snapshots: int
    def __init__(self, released: _Optional[int] = ..., open_snapshots: _Optional[int] = ...) -> None: ...

class ServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfoResponse(_message.Message):
    __slots__ = ("protocol", "bridge_version", "python_version", "gymnasium_version", "open_envs", "protocol_revision", "authenticated")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    GYMNASIUM_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPEN_ENVS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_REVISION_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    bridge_version: str
    python_version: str
    gymnasium_version: str
    open_envs: int
    protocol_revision: int
    authenticated: bool
    def __init__(self, protocol: _Optional[str] = ..., bridge_version: _Optional[str] = ..., python_version: _Optional[str] = ..., gymnasium_version: _Optional[str] = ..., open_envs: _Optional[int] = ..., protocol_revision: _Optional[int] = ..., authenticated: _Optional[bool] = ...) -> None: ...
