/* hresult.c -- messages for the HRESULTs the fake returns (texts after HCSHResult.md and winerror.h). */
#include "hresult.h"

const char *fake_hresult_message(int32_t hr)
{
    switch ((uint32_t)hr) {
    case 0x80004001u: return "Not implemented.";
    case 0x80004005u: return "Unspecified error.";
    case 0x80070002u: return "The system cannot find the file specified.";
    case 0x80070003u: return "The system cannot find the path specified.";
    case 0x80070005u: return "Access is denied.";
    case 0x80070006u: return "The handle is invalid.";
    case 0x8007000Eu: return "Not enough memory resources are available to complete this operation.";
    case 0x80070032u: return "The request is not supported.";
    case 0x80070057u: return "The parameter is incorrect.";
    case 0x800700AAu: return "The requested resource is in use.";
    case 0x800700B7u: return "Cannot create a file when that file already exists.";
    case 0x8007010Bu: return "The directory name is invalid.";
    case 0x80070490u: return "Element not found.";
    case 0x80370100u: return "The virtual machine or container exited unexpectedly while starting.";
    case 0x80370101u: case 0xC0370101u:
        return "The container operating system does not match the host operating system.";
    case 0x80370102u: return "The virtual machine could not be started because a required feature is not installed.";
    case 0x80370105u: return "The requested virtual machine or container operation is not valid in the current state.";
    case 0x80370106u: return "The virtual machine or container exited unexpectedly.";
    case 0x80370107u: return "The virtual machine or container was forcefully exited.";
    case 0x80370108u: return "A connection could not be established with the container or virtual machine.";
    case 0x80370109u: return "The operation timed out because a response was not received from the virtual machine or container.";
    case 0x8037010Au: return "The connection with the virtual machine or container was closed.";
    case 0x8037010Bu: return "An unknown internal message was received by the virtual machine or container.";
    case 0x8037010Cu: return "The virtual machine or container does not support an available version of the communication protocol with the host.";
    case 0x8037010Du: return "The virtual machine or container JSON document is invalid.";
    case 0x8037010Eu: return "A virtual machine or container with the specified identifier does not exist.";
    case 0x8037010Fu: return "A virtual machine or container with the specified identifier already exists.";
    case 0x80370110u: return "The virtual machine or container with the specified identifier is not running.";
    case 0x80370111u: return "A communication protocol error has occurred between the virtual machine or container and the host.";
    case 0x80370112u: return "The container image contains a layer with an unrecognized format.";
    case 0x80370114u: return "A virtual machine or container with the specified identifier does not exist.";
    case 0x80370115u: return "The operation has not started.";
    case 0x80370116u: return "The operation is already running.";
    case 0x80370117u: return "The operation is still running.";
    case 0x80370118u: return "The operation did not complete in time.";
    case 0x80370119u: return "An event callback has already been registered on this handle.";
    case 0x8037011Au: return "Not enough memory available to return the result of the operation.";
    case 0x8037011Bu: return "Insufficient privileges.";
    case 0x8037011Cu: return "The virtual machine or container reported a critical error and was stopped or restarted.";
    case 0x8037011Du: return "The process information is not available.";
    case 0x8037011Eu: return "The host compute system service has disconnected unexpectedly.";
    case 0x8037011Fu: return "The process has already exited.";
    case 0x80370120u: return "The virtual machine or container is not configured to perform the operation.";
    case 0x80370121u: return "The operation has already been cancelled.";
    default: return "The operation failed.";
    }
}
