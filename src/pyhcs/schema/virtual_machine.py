"""The ``VirtualMachine`` half of a ``ComputeSystem`` document: chipset, topology, devices and state files.

A VM compute system is created with ``{"SchemaVersion": ..., "VirtualMachine": VirtualMachine}``; its devices
can later be changed with ``ModifySettingRequest`` documents whose ``ResourcePath`` points into this tree
(e.g. ``"VirtualMachine/Devices/Scsi/<name>/Attachments/<lun>"`` with an :class:`Attachment` as Settings).
"""

from typing import Dict, List

from typing_extensions import Literal, TypedDict

from .common import (
    Guid,
    HvSocketSystemConfig,
    MacAddress,
    RegistryChanges,
    StateOverride,
    StorageQoS,
    Version,
)

__all__ = [
    # enums
    "ApplySecureBootTemplateType",
    "SerialConsole",
    "UefiBootDevice",
    "AttachmentType",
    "CachingMode",
    "MemoryBackingPageSize",
    "MemoryBackingType",
    "ProcessorFeature",
    "XsaveProcessorFeature",
    "ProcessorFeatureSetMode",
    "EnlightenmentModifications",
    "VirtualPMemBackingType",
    "VirtualPMemImageFormat",
    "FlexibleIoDeviceHostingModel",
    "InterruptModerationMode",
    "GpuAssignmentMode",
    # chipset
    "UefiBootEntry",
    "BootThis",
    "Uefi",
    "LinuxKernelDirect",
    "Chipset",
    # topology
    "VirtualMachine_Memory",
    "CpuGroup",
    "ProcessorFeatureSet",
    "VirtualMachine_Processor",
    "Topology",
    "ComputeTopology",
    # devices
    "Attachment",
    "Scsi",
    "ComPort",
    "VirtioSerialPort",
    "VirtioSerial",
    "VirtualPMemMapping",
    "VirtualPMemDevice",
    "VirtualPMemController",
    "IovSettings",
    "NetworkAdapter",
    "RdpConnectionOptions",
    "VideoMonitor",
    "Keyboard",
    "Mouse",
    "VirtualMachine_HvSocket",
    "HvSocket2",
    "EnhancedModeVideo",
    "WindowsCrashReporting",
    "GuestCrashReporting",
    "VirtualSmbShareOptions",
    "VirtualSmbShare",
    "VirtualSmb",
    "Plan9Share",
    "Plan9",
    "Battery",
    "FlexibleIoDevice",
    "SharedMemoryRegion",
    "SharedMemoryConfiguration",
    "VirtualPciFunction",
    "VirtualPciDevice",
    "Devices",
    "GpuConfiguration",
    # services and state
    "Heartbeat",
    "Shutdown",
    "Timesync",
    "KvpExchange",
    "Services",
    "GuestState",
    "RestoreState",
    "GuestConnection",
    "VirtualMachine",
]

# --------------------------------------------------------------------------------------------- enums

ApplySecureBootTemplateType = Literal["Skip", "Apply"]
"""Whether ``Uefi.SecureBootTemplateId`` is applied (schema 2.3)."""

SerialConsole = Literal["Default", "Disabled", "ComPort1", "ComPort2"]
"""Where UEFI sends its serial console, ``Uefi.Console`` (schema 2.0)."""

UefiBootDevice = Literal["ScsiDrive", "VmbFs", "Network", "File"]
"""Kind of UEFI boot entry, ``UefiBootEntry.DeviceType`` (schema 2.0; ``File`` 2.1)."""

AttachmentType = Literal["VirtualDisk", "Iso", "PassThru"]
"""Kind of SCSI attachment (schema 2.0)."""

CachingMode = Literal["Uncached", "Cached", "ReadOnlyCached"]
"""Host I/O caching for a SCSI attachment's VHD chain (schema 2.1); ``Uncached`` is the default."""

MemoryBackingPageSize = Literal["Small", "Large"]
"""Backing page size of VM memory: 4 KiB or 2 MiB (schema 2.2)."""

MemoryBackingType = Literal["Physical", "Virtual"]
"""``VirtualMachine_Memory.Backing``: physically backed or pagefile-backed (virtual) memory.

Not in SchemaReference.md; taken from hcsshim's schema2 and used by Microsoft's HCS Tutorial sample.
"""

ProcessorFeature = Literal[
    "Sse3", "LahfSahf", "Ssse3", "Sse4_1", "Sse4_2", "Sse4A", "Xop", "Popcnt", "Cmpxchg16B", "Altmovcr8",
    "Lzcnt", "Misalignsse", "MmxExt", "Amd3Dnow", "ExtAmd3Dnow", "Page1Gb", "AmdAes", "Pclmulqdq", "Pcid",
    "Fma4", "F16C", "Rdrand", "Rdwrfsgs", "Smep", "EnhancedFastString", "Bmi1", "Bmi2", "Movbe", "Npiep1",
    "DepX87FpuSave", "Rdseed", "Adx", "IntelPrefetch", "Smap", "Hle", "Rtm", "Rdtscp", "Clflushopt", "Clwb",
    "Sha", "X87PointersSaved", "Invpcid", "Ibrs", "Stibp", "Ibpb", "UnrestrictedGuest", "Mdd",
    "FastShortRepMov", "L1DCacheFlush", "RdclNo", "IbrsAll", "SkipL1Df", "SsbNo", "RsbaNo", "VirtSpecCtrl",
    "Rdpid", "Umip", "MbsNo", "MbClear", "TaaNo", "TsxCtrl", "AcountMcount", "TscInvariant", "Clzero",
    "Rdpru", "La57", "Mbec", "NestedVirt", "Psfd", "CetSs", "CetIbt", "VmxExceptionInject", "UmwaitTpause",
    "Movdiri", "Movdir64b", "Cldemote", "Serialize", "TscDeadlineTmr", "TscAdjust", "FZLRepMovsb",
    "FSRepStosb", "FSRepCmpsb", "SentinelAmd", "Asid16", "TGran16", "TGran64", "Haf", "Hdbs", "Pan",
    "AtS1E1", "Uao", "El0Aarch32", "Fp", "FpHp", "AdvSimd", "AdvSimdHp", "GicV3V4", "PmuV3", "PmuV3ArmV81",
    "PmuV3ArmV84", "ArmAes", "PolyMul", "Sha1", "Sha256", "Sha512", "Crc32", "Atomic", "Rdm", "Sha3", "Sm3",
    "Sm4", "Dp", "Fhm", "DcCvap", "DcCvadp", "ApaBase", "ApaEp", "ApaEp2", "ApaEp2Fp", "ApaEp2Fpc", "Jscvt",
    "Fcma", "RcpcV83", "RcpcV84", "Gpa", "L1ipPipt", "DzPermitted", "SentinelArm",
]
"""A processor feature bit (x64 and ARM64) for processor compatibility settings (schema 2.5)."""

XsaveProcessorFeature = Literal[
    "Xsave", "Xsave_Opt", "Avx", "Avx2", "Fma", "Mpx", "Avx512", "Avx512Dq", "Avx512Cd", "Avx512Bw",
    "Avx512Vl", "Xsave_Comp", "Xsave_Supervisor", "Xcr1", "Avx512_Bitalg", "AVX512_Ifma", "Avx512_Vbmi",
    "Avx512_Vbmi2", "Avx512_Vnni", "Gfni", "Vaes", "Avx512_Vpopcntdq", "Vpclmulqdq", "Avx512_Bf16",
    "Avx512_Vp2Intersect", "Avx512Fp16", "Xfd", "AmxTile", "AmxBf16", "AmxInt8", "AvxVnni",
    "SentinelAmdXsave",
]
"""An XSAVE processor feature bit (schema 2.5)."""

ProcessorFeatureSetMode = Literal["Strict", "Permissive"]
"""``Strict`` fails on features the host lacks; ``Permissive`` filters them out (schema 2.5)."""

EnlightenmentModifications = Literal["Unreported", "FavorAutoEoi", "RsvdZ1"]
"""Hypervisor enlightenment modifications (schema 2.5)."""

VirtualPMemBackingType = Literal["Virtual", "Physical"]
"""Backing of the virtual persistent-memory controller (schema 2.1)."""

VirtualPMemImageFormat = Literal["Vhdx", "Vhd1"]
"""Image format of a VPMem device or mapping (schema 2.0)."""

FlexibleIoDeviceHostingModel = Literal["Internal", "External"]
"""Where a flexible IoV device emulator is hosted (schema 2.1)."""

InterruptModerationMode = Literal["Default", "Adaptive", "Off", "Low", "Medium", "High"]
"""Interrupt moderation for network IOV offload, ``IovSettings.InterruptModeration`` (schema 2.4)."""

GpuAssignmentMode = Literal["Disabled", "Default", "List", "Mirror"]
"""How GPUs are assigned to the guest, ``GpuConfiguration.AssignmentMode`` (schema 2.0)."""

# --------------------------------------------------------------------------------------------- chipset


class UefiBootEntry(TypedDict, total=False):
    """The UEFI boot entry, ``Uefi.BootThis`` (schema 2.0; fields 2.1).

    For ``DeviceType: "ScsiDrive"``, ``DevicePath`` is the SCSI controller name from ``Devices.Scsi`` and
    ``DiskNumber`` the LUN.
    """

    DeviceType: UefiBootDevice
    DevicePath: str
    DiskNumber: int
    OptionalData: str
    VmbFsRootPath: str


BootThis = UefiBootEntry
"""Alias of :class:`UefiBootEntry` under its field name ``Uefi.BootThis``."""


class Uefi(TypedDict, total=False):
    """UEFI firmware settings of a VM, ``Chipset.Uefi`` (schema 2.0)."""

    EnableDebugger: bool
    SecureBootTemplateId: Guid
    ApplySecureBootTemplate: ApplySecureBootTemplateType
    BootThis: UefiBootEntry
    Console: SerialConsole
    StopOnBootFailure: bool


class LinuxKernelDirect(TypedDict, total=False):
    """Boot a Linux kernel and initrd directly, without UEFI (schema 2.2)."""

    KernelFilePath: str
    InitRdPath: str
    KernelCmdLine: str


class Chipset(TypedDict, total=False):
    """Chipset and boot settings of a VM, ``VirtualMachine.Chipset`` (schema 2.0).

    Use either ``Uefi`` or ``LinuxKernelDirect`` (2.2). ``EnableHibernation`` is 2.5.
    """

    Uefi: Uefi
    IsNumLockDisabled: bool
    BaseBoardSerialNumber: str
    ChassisSerialNumber: str
    ChassisAssetTag: str
    EnableHibernation: bool
    UseUtc: bool
    LinuxKernelDirect: LinuxKernelDirect


# --------------------------------------------------------------------------------------------- topology


class VirtualMachine_Memory(TypedDict, total=False):
    """Memory configuration of a VM, ``ComputeTopology.Memory`` (schema 2.0).

    ``SizeInMB`` can be updated at runtime via ``"VirtualMachine/ComputeTopology/Memory/SizeInMB"``.
    ``Backing`` comes from hcsshim/the Tutorial, not SchemaReference.md. MMIO fields are 2.3; the fault
    cluster shifts are 2.4.
    """

    SizeInMB: int
    Backing: MemoryBackingType
    AllowOvercommit: bool
    BackingPageSize: MemoryBackingPageSize
    FaultClusterSizeShift: int
    DirectMapFaultClusterSizeShift: int
    PinBackingPages: bool
    ForbidSmallBackingPages: bool
    EnableHotHint: bool
    EnableColdHint: bool
    EnableColdDiscardHint: bool
    EnableDeferredCommit: bool
    LowMmioGapInMB: int
    HighMmioBaseInMB: int
    HighMmioGapInMB: int


class CpuGroup(TypedDict, total=False):
    """A host CPU group to bind a VM to (schema 2.1).

    Also the Settings of ``"VirtualMachine/ComputeTopology/Processor/CpuGroup"`` modify requests.
    """

    Id: Guid


class ProcessorFeatureSet(TypedDict, total=False):
    """Processor features a VM requires, ``VirtualMachine_Processor.ProcessorFeatureSet`` (schema 2.5)."""

    ProcessorFeatures: List[ProcessorFeature]
    XsaveProcessorFeatures: List[XsaveProcessorFeature]
    ProcessorFeatureSetMode: ProcessorFeatureSetMode


class VirtualMachine_Processor(TypedDict, total=False):
    """Virtual processors of a VM, ``ComputeTopology.Processor`` (schema 2.0).

    ``Reservation``/``MaximumFrequencyMHz`` are 2.4; ``EnablePerfmonArchPmu``, ``EnablePageShattering``,
    ``DisableSpeculationControls``, ``ProcessorFeatureSet`` and ``CpuGroup`` are 2.5.
    """

    Count: int
    Limit: int
    Weight: int
    Reservation: int
    MaximumFrequencyMHz: int
    ExposeVirtualizationExtensions: bool
    EnablePerfmonPmu: bool
    EnablePerfmonArchPmu: bool
    EnablePerfmonPebs: bool
    EnablePerfmonLbr: bool
    EnablePerfmonIpt: bool
    EnablePageShattering: bool
    DisableSpeculationControls: bool
    ProcessorFeatureSet: ProcessorFeatureSet
    CpuGroup: CpuGroup


class Topology(TypedDict, total=False):
    """Memory and processor configuration of a VM, ``VirtualMachine.ComputeTopology`` (schema 2.0)."""

    Memory: VirtualMachine_Memory
    Processor: VirtualMachine_Processor


ComputeTopology = Topology
"""Alias of :class:`Topology` under its field name ``VirtualMachine.ComputeTopology``."""

# --------------------------------------------------------------------------------------------- devices


class Attachment(TypedDict, total=False):
    """A disk on a SCSI controller (schema 2.0).

    Settings of ``"VirtualMachine/Devices/Scsi/<controller>/Attachments/<lun>"`` modify requests (hot add /
    remove). ``CachingMode`` 2.1, ``SupportCompressedVolumes`` 2.3, the last two 2.6.
    """

    Type: AttachmentType
    Path: str
    CachingMode: CachingMode
    ReadOnly: bool
    SupportCompressedVolumes: bool
    AlwaysAllowSparseFiles: bool
    SupportEncryptedFiles: bool


class Scsi(TypedDict, total=False):
    """A SCSI controller (schema 2.0).

    ``Attachments`` is keyed by the LUN as a decimal string (JSON object keys are strings).
    ``DisableInterruptBatching`` is 2.4.
    """

    Attachments: Dict[str, Attachment]
    DisableInterruptBatching: bool


class ComPort(TypedDict, total=False):
    """A COM port backed by a host named pipe; ``""`` means disconnected (schema 2.1)."""

    NamedPipe: str
    OptimizeForDebugger: bool


class VirtioSerialPort(TypedDict, total=False):
    """A virtio-serial port: host pipe and the friendly name shown to the guest (schema 2.2)."""

    NamedPipe: str
    Name: str


class VirtioSerial(TypedDict, total=False):
    """Virtio-serial device; ``Ports`` keyed by port number as a decimal string (schema 2.2)."""

    Ports: Dict[str, VirtioSerialPort]


class VirtualPMemMapping(TypedDict, total=False):
    """An image mapped into a VPMem device at an offset (schema 2.2)."""

    HostPath: str
    ImageFormat: VirtualPMemImageFormat


class VirtualPMemDevice(TypedDict, total=False):
    """A virtual persistent-memory device backed by a VHD(X) (schema 2.0).

    ``Mappings`` (2.2) is keyed by offset as a decimal string.
    """

    HostPath: str
    ReadOnly: bool
    ImageFormat: VirtualPMemImageFormat
    SizeBytes: int
    Mappings: Dict[str, VirtualPMemMapping]


class VirtualPMemController(TypedDict, total=False):
    """Virtual persistent-memory controller, ``Devices.VirtualPMem`` (schema 2.0).

    ``Devices`` is keyed by device number as a decimal string; ``MaximumCount`` pads it with empty devices.
    """

    Devices: Dict[str, VirtualPMemDevice]
    MaximumCount: int
    MaximumSizeBytes: int
    Backing: VirtualPMemBackingType


class IovSettings(TypedDict, total=False):
    """I/O virtualization (SR-IOV) offload settings of a network adapter (schema 2.4)."""

    OffloadWeight: int
    QueuePairsRequested: int
    InterruptModeration: InterruptModerationMode


class NetworkAdapter(TypedDict, total=False):
    """A synthetic network adapter connected to an HNS endpoint (schema 2.0).

    ``InstanceId``, ``DisableInterruptBatching``, ``IovSettings`` and ``ConnectionState`` are 2.4.
    """

    EndpointId: Guid
    MacAddress: MacAddress
    InstanceId: Guid
    DisableInterruptBatching: bool
    IovSettings: IovSettings
    ConnectionState: StateOverride


class RdpConnectionOptions(TypedDict, total=False):
    """RDP connection options for video devices (schema 2.1)."""

    AccessSids: List[str]
    NamedPipe: str


class VideoMonitor(TypedDict, total=False):
    """Synthetic video monitor (schema 2.0; fields 2.1)."""

    HorizontalResolution: int
    VerticalResolution: int
    ConnectionOptions: RdpConnectionOptions


class Keyboard(TypedDict, total=False):
    """Synthetic keyboard; an empty object ``{}`` enables it (schema 2.0)."""


class Mouse(TypedDict, total=False):
    """Synthetic mouse; an empty object ``{}`` enables it (schema 2.0)."""


class VirtualMachine_HvSocket(TypedDict, total=False):
    """Hyper-V socket configuration of a VM, ``Devices.HvSocket`` (schema 2.1)."""

    HvSocketConfig: HvSocketSystemConfig


HvSocket2 = VirtualMachine_HvSocket
"""Alias of :class:`VirtualMachine_HvSocket` under hcsshim's name for it."""


class EnhancedModeVideo(TypedDict, total=False):
    """Enhanced-mode (RDP) video (schema 2.1)."""

    ConnectionOptions: RdpConnectionOptions


class WindowsCrashReporting(TypedDict, total=False):
    """Where and how large a Windows guest crash dump is written (schema 2.0)."""

    DumpFileName: str
    MaxDumpSize: int


class GuestCrashReporting(TypedDict, total=False):
    """Guest crash capture settings, ``Devices.GuestCrashReporting`` (schema 2.0)."""

    WindowsCrashSettings: WindowsCrashReporting


class VirtualSmbShareOptions(TypedDict, total=False):
    """Options of a virtual SMB share (schema 2.1; ``SupportCloudFiles`` 2.3,
    ``FilterEncryptionAttributes`` 2.4)."""

    ReadOnly: bool
    ShareRead: bool
    CacheIo: bool
    NoOplocks: bool
    TakeBackupPrivilege: bool
    UseShareRootIdentity: bool
    NoDirectmap: bool
    NoLocks: bool
    NoDirnotify: bool
    VmSharedMemory: bool
    RestrictFileAccess: bool
    ForceLevelIIOplocks: bool
    ReparseBaseLayer: bool
    PseudoOplocks: bool
    NonCacheIo: bool
    PseudoDirnotify: bool
    SingleFileMapping: bool
    SupportCloudFiles: bool
    FilterEncryptionAttributes: bool


class VirtualSmbShare(TypedDict, total=False):
    """A host directory shared to the guest over virtual SMB (schema 2.0).

    Settings of ``"VirtualMachine/Devices/VirtualSmb/Shares"`` modify requests.
    """

    Name: str
    Path: str
    AllowedFiles: List[str]
    Options: VirtualSmbShareOptions


class VirtualSmb(TypedDict, total=False):
    """Virtual SMB device, ``Devices.VirtualSmb`` (schema 2.0; fields 2.1)."""

    Shares: List[VirtualSmbShare]
    DirectFileMappingInMB: int


class Plan9Share(TypedDict, total=False):
    """A host directory shared to a (Linux) guest over Plan 9 / vsock (schema 2.0).

    Settings of ``"VirtualMachine/Devices/Plan9/Shares"`` modify requests. ``AccessName`` is the Plan 9
    ``aname`` (2.1); ``AllowedFiles`` 2.2; ``Flags`` is from hcsshim (not in SchemaReference.md).
    """

    Name: str
    AccessName: str
    Path: str
    Port: int
    Flags: int
    AllowedFiles: List[str]


class Plan9(TypedDict, total=False):
    """Plan 9 file-sharing device, ``Devices.Plan9`` (schema 2.0)."""

    Shares: List[Plan9Share]


class Battery(TypedDict, total=False):
    """Battery device forwarding host battery state; empty object ``{}`` (schema 2.0)."""


class FlexibleIoDevice(TypedDict, total=False):
    """A flexible IoV device (schema 2.1)."""

    EmulatorId: Guid
    HostingModel: FlexibleIoDeviceHostingModel
    Configuration: List[str]


class SharedMemoryRegion(TypedDict, total=False):
    """A host section shared into guest memory (schema 2.0)."""

    SectionName: str
    StartOffset: int
    Length: int
    AllowGuestWrite: bool
    HiddenFromGuest: bool


class SharedMemoryConfiguration(TypedDict, total=False):
    """Shared-memory regions of a VM, ``Devices.SharedMemory`` (schema 2.1)."""

    Regions: List[SharedMemoryRegion]


class VirtualPciFunction(TypedDict, total=False):
    """A host PCI function assigned to the VM (schema 2.3; ``AllowDirectTranslatedP2P`` 2.4)."""

    DeviceInstancePath: str
    VirtualFunction: int
    AllowDirectTranslatedP2P: bool


class VirtualPciDevice(TypedDict, total=False):
    """An assigned (DDA / vPCI) device, ``Devices.VirtualPci[<name>]`` (schema 2.3)."""

    Functions: List[VirtualPciFunction]


class Devices(TypedDict, total=False):
    """The devices of a VM, ``VirtualMachine.Devices`` (schema 2.0).

    Map keys: ``ComPorts`` by port number as a decimal string (2.1); ``Scsi``, ``NetworkAdapters``,
    ``FlexibleIov`` (2.1) and ``VirtualPci`` (2.3) by friendly name (hashed into an instance GUID unless it
    already is one).
    """

    ComPorts: Dict[str, ComPort]
    VirtioSerial: VirtioSerial
    Scsi: Dict[str, Scsi]
    VirtualPMem: VirtualPMemController
    NetworkAdapters: Dict[str, NetworkAdapter]
    VideoMonitor: VideoMonitor
    Keyboard: Keyboard
    Mouse: Mouse
    HvSocket: VirtualMachine_HvSocket
    EnhancedModeVideo: EnhancedModeVideo
    GuestCrashReporting: GuestCrashReporting
    VirtualSmb: VirtualSmb
    Plan9: Plan9
    Battery: Battery
    FlexibleIov: Dict[str, FlexibleIoDevice]
    SharedMemory: SharedMemoryConfiguration
    VirtualPci: Dict[str, VirtualPciDevice]


class GpuConfiguration(TypedDict, total=False):
    """GPU assignment, Settings of ``"VirtualMachine/ComputeTopology/Gpu"`` updates (schema 2.0).

    ``AssignmentRequest`` maps a GPU device interface to a partition id (``0xffff``: any, for GPU-PV).
    """

    AssignmentMode: GpuAssignmentMode
    AssignmentRequest: Dict[str, int]
    AllowVendorExtension: bool


# --------------------------------------------------------------------------------------------- services


class Heartbeat(TypedDict, total=False):
    """Heartbeat integration component; empty object ``{}`` (schema 2.5)."""


class Shutdown(TypedDict, total=False):
    """Shutdown integration component; empty object ``{}`` (schema 2.5)."""


class Timesync(TypedDict, total=False):
    """Time synchronization integration component; empty object ``{}`` (schema 2.5)."""


class KvpExchange(TypedDict, total=False):
    """Key-value pair exchange integration component (schema 2.5)."""

    EnableHostOSInfoKvpItems: StateOverride
    EntriesToBeAdded: Dict[str, str]
    EntriesToBeRemoved: List[str]


class Services(TypedDict, total=False):
    """Guest integration services of a VM, ``VirtualMachine.Services`` (schema 2.5)."""

    Heartbeat: Heartbeat
    Shutdown: Shutdown
    Timesync: Timesync
    KvpExchange: KvpExchange


class GuestState(TypedDict, total=False):
    """Files backing guest state (VMGS) and runtime state (VMRS) (schema 2.1).

    Empty paths mean transient in-memory state; ``ForceTransientState`` uses the files only as templates.
    """

    GuestStateFilePath: str
    RuntimeStateFilePath: str
    ForceTransientState: bool


class RestoreState(TypedDict, total=False):
    """What a VM restores from when started: a saved-state file or a template system (schema 2.0;
    ``TemplateSystemId`` 2.1)."""

    SaveStateFilePath: str
    TemplateSystemId: str


class GuestConnection(TypedDict, total=False):
    """Connection to the guest compute service (GCS) (schema 2.1).

    When present, start completes only once the guest connects. ``UseHostTimeZone`` is 2.4.
    """

    UseVsock: bool
    UseConnectedSuspend: bool
    UseHostTimeZone: bool


class VirtualMachine(TypedDict, total=False):
    """Configuration of a virtual machine compute system, ``ComputeSystem.VirtualMachine`` (schema 2.0).

    ``Version`` and ``Services`` are 2.5; ``GuestState``, ``StorageQoS`` and ``GuestConnection`` 2.1.
    """

    Version: Version
    StopOnReset: bool
    Chipset: Chipset
    ComputeTopology: Topology
    Devices: Devices
    Services: Services
    GuestState: GuestState
    RestoreState: RestoreState
    RegistryChanges: RegistryChanges
    StorageQoS: StorageQoS
    GuestConnection: GuestConnection
