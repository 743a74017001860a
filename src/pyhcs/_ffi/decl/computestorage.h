/* ComputeStorage.h -- container layer storage API exported by computestorage.dll (newest Windows SDK: 14 functions).
 * Same names, parameter order, names and types as the SDK header; "newer SDK" marks what mingw-w64 lacks.
 */
HRESULT WINAPI HcsImportLayer(PCWSTR layerPath, PCWSTR sourceFolderPath, PCWSTR layerData);
HRESULT WINAPI HcsExportLayer(PCWSTR layerPath, PCWSTR exportFolderPath, PCWSTR layerData, PCWSTR options);
HRESULT WINAPI HcsExportLegacyWritableLayer(PCWSTR writableLayerMountPath, PCWSTR writableLayerFolderPath, PCWSTR exportFolderPath, PCWSTR layerData);
HRESULT WINAPI HcsDestroyLayer(PCWSTR layerPath);
HRESULT WINAPI HcsSetupBaseOSLayer(PCWSTR layerPath, HANDLE vhdHandle, PCWSTR options);
HRESULT WINAPI HcsInitializeWritableLayer(PCWSTR writableLayerPath, PCWSTR layerData, PCWSTR options);
HRESULT WINAPI HcsInitializeLegacyWritableLayer(PCWSTR writableLayerMountPath, PCWSTR writableLayerFolderPath, PCWSTR layerData, PCWSTR options);
HRESULT WINAPI HcsAttachLayerStorageFilter(PCWSTR layerPath, PCWSTR layerData);
HRESULT WINAPI HcsDetachLayerStorageFilter(PCWSTR layerPath);
HRESULT WINAPI HcsFormatWritableLayerVhd(HANDLE vhdHandle);
HRESULT WINAPI HcsGetLayerVhdMountPath(HANDLE vhdHandle, PWSTR *mountPath);
HRESULT WINAPI HcsSetupBaseOSVolume(PCWSTR layerPath, PCWSTR volumePath, PCWSTR options);
HRESULT WINAPI HcsAttachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData); /* newer SDK */
HRESULT WINAPI HcsDetachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData); /* newer SDK */
