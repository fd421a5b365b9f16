from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionResponse(_message.Message):
    __slots__ = ("diatheke", "chosun", "cubic", "luna")
    DIATHEKE_FIELD_NUMBER: _ClassVar[int]
    CHOSUN_FIELD_NUMBER: _ClassVar[int]
    CUBIC_FIELD_NUMBER: _ClassVar[int]
    LUNA_FIELD_NUMBER: _ClassVar[int]
    diatheke: str
    chosun: str
    cubic: str
    luna: str
    def __init__(self, diatheke: _Optional[str] = ..., chosun: _Optional[str] = ..., cubic: _Optional[str] = ..., luna: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("id", "name", "language", "asr_sample_rate", "tts_sample_rate")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ASR_SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    TTS_SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    language: str
    asr_sample_rate: int
    tts_sample_rate: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., language: _Optional[str] = ..., asr_sample_rate: _Optional[int] = ..., tts_sample_rate: _Optional[int] = ...) -> None: ...

class SessionInput(_message.Message):
    __slots__ = ("token", "text", "asr", "cmd", "story")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ASR_FIELD_NUMBER: _ClassVar[int]
    CMD_FIELD_NUMBER: _ClassVar[int]
    STORY_FIELD_NUMBER: _ClassVar[int]
    token: TokenData
    text: TextInput
    asr: ASRResult
    cmd: CommandResult
    story: SetStory
    def __init__(self, token: _Optional[_Union[TokenData, _Mapping]] = ..., text: _Optional[_Union[TextInput, _Mapping]] = ..., asr: _Optional[_Union[ASRResult, _Mapping]] = ..., cmd: _Optional[_Union[CommandResult, _Mapping]] = ..., story: _Optional[_Union[SetStory, _Mapping]] = ...) -> None: ...

class TokenData(_message.Message):
    __slots__ = ("data", "id", "metadata")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    id: str
    metadata: str
    def __init__(self, data: _Optional[bytes] = ..., id: _Optional[str] = ..., metadata: _Optional[str] = ...) -> None: ...

class SessionStart(_message.Message):
    __slots__ = ("model_id", "wakeword")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    WAKEWORD_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    wakeword: str
    def __init__(self, model_id: _Optional[str] = ..., wakeword: _Optional[str] = ...) -> None: ...

class TextInput(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("id", "out_parameters", "error")
    class OutParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OUT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    out_parameters: _containers.ScalarMap[str, str]
    error: str
    def __init__(self, id: _Optional[str] = ..., out_parameters: _Optional[_Mapping[str, str]] = ..., error: _Optional[str] = ...) -> None: ...

class SetStory(_message.Message):
    __slots__ = ("story_id", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, story_id: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SessionOutput(_message.Message):
    __slots__ = ("token", "action_list")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_LIST_FIELD_NUMBER: _ClassVar[int]
    token: TokenData
    action_list: _containers.RepeatedCompositeFieldContainer[ActionData]
    def __init__(self, token: _Optional[_Union[TokenData, _Mapping]] = ..., action_list: _Optional[_Iterable[_Union[ActionData, _Mapping]]] = ...) -> None: ...

class ActionData(_message.Message):
    __slots__ = ("input", "command", "reply", "transcribe")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIBE_FIELD_NUMBER: _ClassVar[int]
    input: WaitForUserAction
    command: CommandAction
    reply: ReplyAction
    transcribe: TranscribeAction
    def __init__(self, input: _Optional[_Union[WaitForUserAction, _Mapping]] = ..., command: _Optional[_Union[CommandAction, _Mapping]] = ..., reply: _Optional[_Union[ReplyAction, _Mapping]] = ..., transcribe: _Optional[_Union[TranscribeAction, _Mapping]] = ...) -> None: ...

class WaitForUserAction(_message.Message):
    __slots__ = ("requires_wake_word", "immediate")
    REQUIRES_WAKE_WORD_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_FIELD_NUMBER: _ClassVar[int]
    requires_wake_word: bool
    immediate: bool
    def __init__(self, requires_wake_word: _Optional[bool] = ..., immediate: _Optional[bool] = ...) -> None: ...

class CommandAction(_message.Message):
    __slots__ = ("id", "input_parameters")
    class InputParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    input_parameters: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., input_parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ReplyAction(_message.Message):
    __slots__ = ("text", "luna_model")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LUNA_MODEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    luna_model: str
    def __init__(self, text: _Optional[str] = ..., luna_model: _Optional[str] = ...) -> None: ...

class TranscribeAction(_message.Message):
    __slots__ = ("id", "cubic_model_id", "diatheke_model_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    CUBIC_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DIATHEKE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    cubic_model_id: str
    diatheke_model_id: str
    def __init__(self, id: _Optional[str] = ..., cubic_model_id: _Optional[str] = ..., diatheke_model_id: _Optional[str] = ...) -> None: ...

class ASRInput(_message.Message):
    __slots__ = ("token", "audio")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    token: TokenData
    audio: bytes
    def __init__(self, token: _Optional[_Union[TokenData, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class ASRResult(_message.Message):
    __slots__ = ("text", "confidence", "timedOut")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TIMEDOUT_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence: float
    timedOut: bool
    def __init__(self, text: _Optional[str] = ..., confidence: _Optional[float] = ..., timedOut: _Optional[bool] = ...) -> None: ...

class TTSAudio(_message.Message):
    __slots__ = ("audio",)
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    def __init__(self, audio: _Optional[bytes] = ...) -> None: ...

class TranscribeInput(_message.Message):
    __slots__ = ("action", "audio")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    action: TranscribeAction
    audio: bytes
    def __init__(self, action: _Optional[_Union[TranscribeAction, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class TranscribeResult(_message.Message):
    __slots__ = ("text", "confidence", "is_partial")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    IS_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    text: str
    confidence: float
    is_partial: bool
    def __init__(self, text: _Optional[str] = ..., confidence: _Optional[float] = ..., is_partial: _Optional[bool] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
