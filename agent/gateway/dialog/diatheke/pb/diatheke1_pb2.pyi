from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionResponse(_message.Message):
    __slots__ = ("server",)
    SERVER_FIELD_NUMBER: _ClassVar[int]
    server: str
    def __init__(self, server: _Optional[str] = ...) -> None: ...

class ModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, models: _Optional[_Iterable[str]] = ...) -> None: ...

class NewSessionRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class SessionID(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DiathekeEvent(_message.Message):
    __slots__ = ("command", "recognize", "reply", "input_required", "at_start")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    RECOGNIZE_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    INPUT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    AT_START_FIELD_NUMBER: _ClassVar[int]
    command: CommandEvent
    recognize: RecognizeEvent
    reply: ReplyEvent
    input_required: InputRequiredEvent
    at_start: AtStartEvent
    def __init__(self, command: _Optional[_Union[CommandEvent, _Mapping]] = ..., recognize: _Optional[_Union[RecognizeEvent, _Mapping]] = ..., reply: _Optional[_Union[ReplyEvent, _Mapping]] = ..., input_required: _Optional[_Union[InputRequiredEvent, _Mapping]] = ..., at_start: _Optional[_Union[AtStartEvent, _Mapping]] = ...) -> None: ...

class CommandEvent(_message.Message):
    __slots__ = ("command_id", "parameters", "command_state_id")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_STATE_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    parameters: _containers.ScalarMap[str, str]
    command_state_id: str
    def __init__(self, command_id: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., command_state_id: _Optional[str] = ...) -> None: ...

class RecognizeEvent(_message.Message):
    __slots__ = ("text", "valid_input")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALID_INPUT_FIELD_NUMBER: _ClassVar[int]
    text: str
    valid_input: bool
    def __init__(self, text: _Optional[str] = ..., valid_input: _Optional[bool] = ...) -> None: ...

class ReplyEvent(_message.Message):
    __slots__ = ("text", "label")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    label: str
    def __init__(self, text: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class InputRequiredEvent(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AtStartEvent(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CommandStatus(_message.Message):
    __slots__ = ("session_id", "command_id", "return_status", "output_parameters", "error_message_text", "command_state_id")
    class StatusCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SUCCESS: _ClassVar[CommandStatus.StatusCode]
        FAILURE: _ClassVar[CommandStatus.StatusCode]
    SUCCESS: CommandStatus.StatusCode
    FAILURE: CommandStatus.StatusCode
    class OutputParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    RETURN_STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_TEXT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_STATE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    command_id: str
    return_status: CommandStatus.StatusCode
    output_parameters: _containers.ScalarMap[str, str]
    error_message_text: str
    command_state_id: str
    def __init__(self, session_id: _Optional[str] = ..., command_id: _Optional[str] = ..., return_status: _Optional[_Union[CommandStatus.StatusCode, str]] = ..., output_parameters: _Optional[_Mapping[str, str]] = ..., error_message_text: _Optional[str] = ..., command_state_id: _Optional[str] = ...) -> None: ...

class AudioInput(_message.Message):
    __slots__ = ("session_id", "data")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    data: bytes
    def __init__(self, session_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class AudioReply(_message.Message):
    __slots__ = ("label", "text", "data", "end")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    label: str
    text: str
    data: bytes
    end: Empty
    def __init__(self, label: _Optional[str] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[Empty, _Mapping]] = ...) -> None: ...

class PushTextRequest(_message.Message):
    __slots__ = ("session_id", "text")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class StoryRequest(_message.Message):
    __slots__ = ("session_id", "story_id", "parameters", "wait_for_start", "temporary")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_START_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    story_id: str
    parameters: _containers.ScalarMap[str, str]
    wait_for_start: bool
    temporary: bool
    def __init__(self, session_id: _Optional[str] = ..., story_id: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., wait_for_start: _Optional[bool] = ..., temporary: _Optional[bool] = ...) -> None: ...

class ASRRequest(_message.Message):
    __slots__ = ("model", "audio")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    model: str
    audio: bytes
    def __init__(self, model: _Optional[str] = ..., audio: _Optional[bytes] = ...) -> None: ...

class ASRResponse(_message.Message):
    __slots__ = ("text", "confidence_score")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_SCORE_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence_score: float
    def __init__(self, text: _Optional[str] = ..., confidence_score: _Optional[float] = ...) -> None: ...

class TTSRequest(_message.Message):
    __slots__ = ("model", "text")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    model: str
    text: str
    def __init__(self, model: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class TTSResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
